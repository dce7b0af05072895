import Foundation
import Glibc
import Synchronization
import Testing
@testable import PortcullisCore

/// A DNS the test scripts: name -> addresses, changed at will, with a count of lookups.
final class ScriptedDNS: Sendable {
    private let answers = Mutex<[String: [String]]>([:])
    private let lookups = Mutex(0)

    func set(_ name: String, _ hosts: [String]) { answers.withLock { $0[name] = hosts } }
    var lookupCount: Int { lookups.withLock { $0 } }

    var resolver: BackendAddressBook.Resolver {
        { [self] name, port in
            lookups.withLock { $0 += 1 }
            return (answers.withLock { $0[name] } ?? []).compactMap { SocketAddress(numericHost: $0, port: port) }
        }
    }
}

@Suite struct BackendAddressBookTests {
    private func hosts(_ addresses: [SocketAddress]) -> [String] { addresses.map(\.hostText) }

    @Test func namesAreResolvedByPrepareNumbersAndSocketsNever() {
        let dns = ScriptedDNS()
        dns.set("app.internal", ["10.0.0.7", "10.0.0.8"])
        let book = BackendAddressBook(resolver: dns.resolver)
        let app = BackendAddress.tcp(host: "app.internal", port: 8080)
        let unresolved = book.prepare([app, .tcp(host: "127.0.0.1", port: 8080), .unix(path: "/run/app.sock"), app])
        #expect(unresolved.isEmpty)
        #expect(dns.lookupCount == 1, "one lookup per name, none for numbers and sockets")
        #expect(hosts(book.addresses(of: app)) == ["10.0.0.7", "10.0.0.8"])
        #expect(book.addresses(of: app).first?.port == 8080)
        #expect(hosts(book.addresses(of: .tcp(host: "::1", port: 1))) == ["::1"])
        #expect(book.addresses(of: .unix(path: "/run/app.sock")).first?.family == .unix)
        #expect(dns.lookupCount == 1, "workers read what prepare resolved")
    }

    @Test func refreshFollowsAChangeAndBumpsTheVersionOnlyThen() {
        let dns = ScriptedDNS()
        dns.set("app.internal", ["10.0.0.7", "10.0.0.8"])
        let book = BackendAddressBook(resolver: dns.resolver)
        let app = BackendAddress.tcp(host: "app.internal", port: 8080)
        book.prepare([app])
        let version = book.version
        // Round-robin DNS rotates the order: the same addresses are no change.
        dns.set("app.internal", ["10.0.0.8", "10.0.0.7"])
        #expect(book.refresh().changes.isEmpty)
        #expect(book.version == version)
        #expect(hosts(book.addresses(of: app)) == ["10.0.0.7", "10.0.0.8"], "the order stays (balance = first)")
        dns.set("app.internal", ["10.0.0.9"])
        let (changes, unresolved) = book.refresh()
        #expect(unresolved.isEmpty)
        #expect(changes.map { hosts($0.new) } == [["10.0.0.9"]] && changes.map { hosts($0.old) } == [["10.0.0.7", "10.0.0.8"]])
        #expect(book.version != version)
        #expect(hosts(book.addresses(of: app)) == ["10.0.0.9"])
    }

    @Test func aNameThatStopsResolvingKeepsItsAddresses() {
        let dns = ScriptedDNS()
        dns.set("app.internal", ["10.0.0.7"])
        let book = BackendAddressBook(resolver: dns.resolver)
        let app = BackendAddress.tcp(host: "app.internal", port: 8080)
        let missing = BackendAddress.tcp(host: "missing.internal", port: 8080)
        #expect(book.prepare([app, missing]) == [missing])
        #expect(book.addresses(of: missing).isEmpty)
        dns.set("app.internal", [])
        let (changes, unresolved) = book.refresh()
        #expect(changes.isEmpty && Set(unresolved) == [app, missing])
        #expect(hosts(book.addresses(of: app)) == ["10.0.0.7"], "a DNS outage does not take a working backend away")
        // Once it resolves, the next refresh picks it up.
        dns.set("missing.internal", ["10.0.0.20"])
        #expect(book.refresh().changes.map(\.backend) == [missing])
        #expect(hosts(book.addresses(of: missing)) == ["10.0.0.20"])
        // A reload (prepare) that no longer lists a name forgets it: it is not refreshed any more.
        book.prepare([app])
        #expect(book.known(missing) == nil)
    }

    @Test func aNameNobodyPreparedIsResolvedOnFirstUseOnce() {
        let dns = ScriptedDNS()
        dns.set("lazy.internal", ["10.0.0.30"])
        let book = BackendAddressBook(resolver: dns.resolver)
        let lazy = BackendAddress.tcp(host: "lazy.internal", port: 80)
        #expect(hosts(book.addresses(of: lazy)) == ["10.0.0.30"])
        #expect(hosts(book.addresses(of: lazy)) == ["10.0.0.30"])
        #expect(dns.lookupCount == 1)
        dns.set("lazy.internal", ["10.0.0.31"])
        #expect(book.refresh().changes.count == 1, "and refreshed from then on")
    }
}
