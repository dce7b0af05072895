import Foundation
import Glibc
import Synchronization
import Logging
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

/// The address book in a running server: a reload looks up only new names, and the active health checks
/// follow a name to its new address.
@Suite struct BackendNamesInTheServerTests {
    @Test func aReloadLooksUpOnlyNewNamesTheResolverThreadTheRest() {
        let dns = ScriptedDNS()
        dns.set("kept.internal", ["10.0.0.1"])
        dns.set("new.internal", ["10.0.0.2"])
        let book = BackendAddressBook(resolver: dns.resolver)
        let kept = BackendAddress.tcp(host: "kept.internal", port: 80)
        let added = BackendAddress.tcp(host: "new.internal", port: 80)
        book.prepare([kept])
        #expect(dns.lookupCount == 1)
        dns.set("kept.internal", ["10.0.0.9"])
        book.prepare([kept, added], resolvingKnown: false)
        #expect(dns.lookupCount == 2, "only the new name")
        #expect(book.known(kept)?.map(\.hostText) == ["10.0.0.1"], "until the resolver thread's next round")
        #expect(book.known(added)?.map(\.hostText) == ["10.0.0.2"])
        #expect(book.refresh().changes.map(\.backend) == [kept])
    }

    @Test func activeChecksFollowABackendNameToItsNewAddress() throws {
        let pki = try HostPKI.shared()
        var first: TestBackend? = try TestBackend(host: "127.0.0.2")
        let port = try #require(first?.port)
        let second = try TestBackend(host: "127.0.0.3", port: port)
        let dns = ScriptedDNS()
        dns.set("app.test", ["127.0.0.2"])
        var host = hostConfiguration("app", pki.www, names: ["www.example.com"])
        host.backends = [.tcp(host: "app.test", port: port)]
        host.backendHealth.check = HealthCheckConfiguration(interval: .milliseconds(50), timeout: .milliseconds(500), rise: 1, fall: 1)
        let configuration = ProxyConfiguration(
            listeners: [ListenerConfiguration(name: "main", addresses: [ListenAddress(host: "127.0.0.1", port: 0, family: .ipv4)],
                                              hosts: ["app"], defaultHost: "app")],
            hosts: [host])
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let table = try HostTable.compile(configuration, logger: logger)
        let metrics = ProxyMetrics(workers: 1)
        let proxy = try RunningProxy(router: table, resolver: dns.resolver, resolveInterval: .milliseconds(50), metrics: metrics)
        defer { proxy.stop() }
        func backendUp() -> Double? {
            (try? ParsedExposition(metrics.renderText()))?.value("portcullis_backend_up", ["host": "app", "backend": "app.test:\(port)"])
        }
        func checksOK() -> Double {
            (try? ParsedExposition(metrics.renderText()))?.value("portcullis_backend_checks_total",
                                                                  ["host": "app", "backend": "app.test:\(port)", "result": "ok"]) ?? 0
        }
        #expect(eventually { checksOK() >= 2 }, "the checks run against 127.0.0.2")
        #expect(backendUp() == 1)

        // The name moves to 127.0.0.3 and nothing listens on 127.0.0.2 any more. Checks that stayed on the
        // old address would take the backend down at their next failure (fall 1, every 50 ms).
        dns.set("app.test", ["127.0.0.3"])
        first = nil
        #expect(eventually { proxy.server.addressBook.known(.tcp(host: "app.test", port: port))?.map(\.hostText) == ["127.0.0.3"] })
        usleep(500_000)
        #expect(backendUp() == 1, "the checks moved to the new address")
        let before = checksOK()
        #expect(eventually { checksOK() >= before + 2 }, "and keep succeeding there")
        withExtendedLifetime(second) {}
    }
}
