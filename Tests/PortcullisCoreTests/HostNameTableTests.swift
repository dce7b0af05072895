import Testing
@testable import PortcullisCore

@Suite struct HostNameTableTests {
    func table(_ names: [String]) throws -> ServerNameTable<String> {
        var table = ServerNameTable<String>()
        for name in names { try table.insert(name, value: name) }
        return table
    }

    @Test func exactBeatsWildcard() throws {
        let table = try table(["*.example.com", "www.example.com"])
        #expect(table.lookup("www.example.com") == "www.example.com")
        #expect(table.lookup("api.example.com") == "*.example.com")
    }

    @Test func wildcardCoversExactlyOneLabel() throws {
        let table = try table(["*.example.com"])
        #expect(table.lookup("a.example.com") == "*.example.com")
        #expect(table.lookup("example.com") == nil)
        #expect(table.lookup("a.b.example.com") == nil)
        #expect(table.lookup(".example.com") == nil)
        #expect(table.lookup("aexample.com") == nil)
    }

    @Test func mostSpecificWildcardWins() throws {
        let table = try table(["*.example.com", "*.b.example.com"])
        #expect(table.lookup("a.b.example.com") == "*.b.example.com")
        #expect(table.lookup("b.example.com") == "*.example.com")
    }

    @Test func namesAreCaseInsensitiveAndIgnoreOneTrailingDot() throws {
        let table = try table(["WWW.Example.com."])
        #expect(table.names == ["www.example.com"])
        #expect(table.lookup("www.EXAMPLE.com") == "WWW.Example.com.")
        #expect(table.lookup("www.example.com.") == "WWW.Example.com.")
    }

    @Test(arguments: ["*.com", "a.*.example.com", "w*.example.com", "*", "", "bad name.example.com", "a..b", String(repeating: "a", count: 64) + ".com"])
    func invalidNamesAreRefused(name: String) {
        var table = ServerNameTable<Int>()
        #expect(throws: ServerNameTable<Int>.InsertError.self) { try table.insert(name, value: 1) }
    }

    @Test func duplicatesAreRefused() throws {
        var table = try table(["www.example.com", "*.example.com"])
        #expect(throws: ServerNameTable<String>.InsertError.duplicate("www.example.com")) { try table.insert("WWW.example.com", value: "x") }
        #expect(throws: ServerNameTable<String>.InsertError.duplicate("*.example.com")) { try table.insert("*.EXAMPLE.com", value: "x") }
    }
}
