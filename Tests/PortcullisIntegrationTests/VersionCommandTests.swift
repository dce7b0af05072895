import Foundation
import Testing

@Test func versionCommandPrintsPortcullisVersion() throws {
    let process = Process()
    process.executableURL = BinaryLocator.portcullis
    process.arguments = ["version"]
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    process.waitUntilExit()
    let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    #expect(process.terminationStatus == 0)
    #expect(output.contains("portcullis "))
}
