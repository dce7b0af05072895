import Foundation

/// Finds the `portcullis` executable SwiftPM built next to the test bundle.
enum BinaryLocator {
    static var portcullis: URL {
        var url = Bundle.main.bundleURL
        for _ in 0..<4 {
            let candidate = url.appendingPathComponent("portcullis")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            url.deleteLastPathComponent()
        }
        // SwiftPM puts test bundles and executables in the same build directory.
        let buildDir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        return buildDir.appendingPathComponent("portcullis")
    }
}
