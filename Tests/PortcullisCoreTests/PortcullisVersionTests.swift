import Testing
@testable import PortcullisCore

@Test func versionIsSemantic() {
    let parts = PortcullisVersion.string.split(separator: ".")
    #expect(parts.count == 3)
    #expect(parts.allSatisfy { Int($0) != nil })
}
