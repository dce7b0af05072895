internal import CPortcullisSystem
internal import Glibc
import OpenSSLCrypto
import OpenSSLSSL

/// One proxied client connection, from `accept` to close, driven by its worker's event loop. Read it top to
/// bottom: the load balancer's PROXY header (listeners with `accept_proxy`), handshake, host and policy, the
/// backend's optional PROXY header and a look at whether the client is still there, backend connect, the
/// two-way pump, the close.
///
/// Both sockets are registered once, edge-triggered (see `EventLoop`). Readiness is remembered in four flags
/// that an event sets and an `EAGAIN` (or OpenSSL's `wantRead`/`wantWrite`) clears, so the pump knows what can
/// make progress without asking the kernel. Each direction has one fixed, page-aligned buffer from the
/// worker's pool, held only while it has bytes in it:
///
///     client --TLS read--> upstream --send--> backend
///     client <--TLS write-- downstream <--recv-- backend
///
/// Back-pressure: a side is read only while the buffer it reads into has space; a full buffer stops the
/// reads and the kernel's windows push back on the sender. The connection is confined to its worker thread.
final class ProxyConnection: LoopTimerTarget {
    enum Phase { case proxyHeader, handshaking, connecting, streaming, closed }
    /// What a TLS operation is waiting for after OpenSSL said `wantRead` or `wantWrite`.
    enum Need { case readable, writable }
    /// The result of one pump step.
    private enum Step { case progressed, blocked, ended }

    // MARK: Identity and sockets

    /// The worker outlives its connections (it finishes every one before it exits), so the reference needs
    /// no reference counting on the hot path.
    unowned(unsafe) let worker: Worker
    /// The table this connection started with; kept for its whole life (reloads do not affect it).
    let router: any ConnectionRouter
    let listenerName: String
    let id: UInt64
    let clientFD: Int32
    /// The client: the socket's peer, or the source address of the load balancer's PROXY header.
    private(set) var clientAddress: SocketAddress
    /// The socket's peer when a PROXY header was accepted (the load balancer); nil otherwise.
    private(set) var viaAddress: SocketAddress?
    /// The address the client connected to, from the PROXY header (on the balancer); nil: our socket's own.
    private var destinationAddress: SocketAddress?
    /// The listener's `accept_proxy` policy; nil when the connection starts with the TLS handshake.
    let proxyHeaderPolicy: ProxyHeaderPolicy?
    let tls: Connection
    var clientToken = EventLoop.Token.none
    private var backendFD: Int32 = -1
    private var backendToken = EventLoop.Token.none
    /// Index in the worker's connection list (for O(1) removal).
    var listIndex = -1
    /// Where this connection is counted against `max_connections_per_client` (nil: not counted).
    var clientSlots: ClientConnectionCounts.Slots?

    private(set) var phase = Phase.handshaking
    private var host: (any RoutedHost)?
    /// The host's backend selection in this worker, and the address this connection holds (-1: none).
    private var selector: BackendSelector?
    private var attempts = BackendAttempts()
    private var backendSlot = -1
    private var backendLabel: String?
    private var lastBackendError = ""
    /// The allow-list entry that admitted the client (access log `allow=`).
    private var allowEntry: String?
    /// Why the allow-list refused a client sent to `client_refused_backend` (access log `redirected=`).
    private var redirectReason: String?

    // MARK: Data path state

    private var upstream = IOBuffer()
    private var downstream = IOBuffer()
    private var clientReadable = true
    private var clientWritable = true
    private var backendReadable = false
    private var backendWritable = false
    /// The backend reported FIN/RST/error (EPOLLRDHUP/HUP/ERR): a short read no longer means "drained".
    private var backendHangup = false
    /// The client reported FIN/RST/error: an incomplete PROXY header will never be completed.
    private var clientHangup = false
    /// Bytes of an incomplete PROXY header seen by the last peek (for the timeout's log line).
    private var proxyHeaderBytesSeen = 0
    private var handshakeNeeds = Need.readable
    private var tlsReadNeeds = Need.readable
    private var tlsWriteNeeds = Need.writable
    private var tlsShutdownNeeds = Need.writable
    /// Length of a TLS write OpenSSL asked us to retry (it must be retried with the same length); 0 if none.
    private var pendingTLSWrite = 0

    /// close_notify received from the client.
    private var clientInputDone = false
    /// `shutdown(SHUT_WR)` sent to the backend.
    private var backendOutputClosed = false
    /// FIN received from the backend.
    private var backendInputDone = false
    /// close_notify sent to the client.
    private var clientOutputClosed = false
    /// Which side finished first (for the access log): "client_close" or "backend_close".
    private var firstClose: String?
    /// The client's TCP stream ended without close_notify right after bytes read before the backend was
    /// connected: they are delivered, then the connection ends as `truncated` (the backend is reset).
    private var clientEOFAfterData = false

    // MARK: Accounting

    private var bytesFromClient: UInt64 = 0
    private var bytesToClient: UInt64 = 0
    let acceptedAt: UInt64
    let acceptedAtWall: Int64
    private var handshakeCompletedAt: UInt64 = 0
    private var lastActivity: UInt64
    var timerState = LoopTimerState()
    /// The host's counters once the host admitted the client (nil before, or with metrics off).
    private var hostCounters: HostCounters?
    /// What the handshake failed with, for the metrics' failure reason.
    private var handshakeError: (any Error)?
    /// The client certificate's names (from the session, so also on resumption), read once when needed.
    private lazy var clientIdentity: ClientIdentity? = tls.getPeerCertificate().flatMap { try? CertificateNames.identity(of: $0) }

    init(worker: Worker, router: any ConnectionRouter, listenerName: String, id: UInt64, clientFD: Int32,
         clientAddress: SocketAddress, tls: Connection, now: UInt64, proxyHeaderPolicy: ProxyHeaderPolicy? = nil) {
        self.worker = worker
        self.router = router
        self.listenerName = listenerName
        self.id = id
        self.clientFD = clientFD
        self.clientAddress = clientAddress
        self.proxyHeaderPolicy = proxyHeaderPolicy
        self.tls = tls
        self.acceptedAt = now
        self.acceptedAtWall = MonotonicClock.wallNanoseconds()
        self.lastActivity = now
    }

    /// Starts the handshake timer (it also bounds the PROXY header) and goes on at once: the PROXY header or
    /// the ClientHello is often already there.
    func start() {
        worker.loop.timers.schedule(self, at: acceptedAt &+ worker.settings.handshakeTimeout)
        if let proxyHeaderPolicy {
            guard proxyHeaderPolicy.admits(clientAddress) else {
                finish(.proxySourceDenied(clientAddress.description))
                return
            }
            phase = .proxyHeader
            readProxyHeader()
        } else {
            continueHandshake()
        }
    }

    // MARK: 0. The load balancer's PROXY header (listeners with accept_proxy)

    /// Reads the PROXY header and not one byte more, so the ClientHello stays in the socket for OpenSSL's fd
    /// BIO: peek (`MSG_PEEK`) at what has arrived, let the parser find the header's end, then receive exactly
    /// that. A partial header waits for the next readable event (edge-triggered epoll reports every new
    /// arrival, and a peek consumes nothing); the handshake timer bounds the wait. The peek uses the upstream
    /// buffer's pool memory, given back before the handshake.
    private func readProxyHeader() {
        guard let space = upstream.writableSpace(from: worker.pool), let base = space.baseAddress else {
            finish(.internalError("out of memory for a buffer"))
            return
        }
        let limit = min(space.count, ProxyProtocolParser.maximumLength)
        var peeked = recv(clientFD, base, limit, Int32(MSG_PEEK))
        if peeked < 0, errno == EINTR { peeked = recv(clientFD, base, limit, Int32(MSG_PEEK)) }
        let peekErrno = errno
        var outcome = ProxyProtocolParser.Outcome.needMore
        var received = 0
        if peeked > 0 {
            outcome = ProxyProtocolParser.parse(UnsafeRawBufferPointer(start: base, count: peeked))
            if case .header(let header) = outcome {
                // The peek saw these bytes, and only this thread reads the socket: they are all there.
                received = recv(clientFD, base, header.length, 0)
            }
        }
        upstream.release(to: worker.pool)

        if peeked < 0 {
            if peekErrno == EAGAIN || peekErrno == EWOULDBLOCK {
                clientReadable = false
            } else {
                finish(.clientReset(SystemCallError("recv", code: peekErrno).description))
            }
            return
        }
        if peeked == 0 {
            finish(proxyHeaderBytesSeen == 0 ? .clientClosedDuringHandshake
                   : .proxyHeaderInvalid("the connection closed inside the PROXY header (\(proxyHeaderBytesSeen) bytes)"))
            return
        }
        switch outcome {
        case .needMore:
            proxyHeaderBytesSeen = peeked
            if clientHangup {
                finish(.proxyHeaderInvalid("the connection closed inside the PROXY header (\(peeked) bytes)"))
            } else {
                clientReadable = false
            }
        case .invalid(let reason):
            finish(.proxyHeaderInvalid(reason))
        case .header(let header):
            guard received == header.length else {
                finish(.internalError("PROXY header: received \(received) of \(header.length) peeked bytes"))
                return
            }
            viaAddress = clientAddress
            if let source = header.source {
                clientAddress = source
                destinationAddress = header.destination
            }
            // The balancer is not the client: the original client is counted now that it is known.
            if let maximum = worker.admitClient(self) {
                finish(.clientLimit(clientAddress.hostText, maximum: maximum))
                return
            }
            phase = .handshaking
            continueHandshake()
        }
    }

    // MARK: 1. Handshake

    private func continueHandshake() {
        switch tls.handshakeStep() {
        case .done:
            handshakeCompleted()
        case .wantRead:
            clientReadable = false
            handshakeNeeds = .readable
        case .wantWrite:
            clientWritable = false
            handshakeNeeds = .writable
        case .closed, .unexpectedEOF:
            finish(.clientClosedDuringHandshake)
        case .failed(let error):
            // A refused client certificate fails the handshake with OpenSSL's generic "certificate verify
            // failed"; the verify result says why (expired, revoked, unknown CA), which is what operators need.
            let verifyResult = tls.getVerifyResult()
            let detail = verifyResult == 0 ? Self.describe(error)
                : "client certificate verify failed: \(X509VerificationCode(rawValue: Int32(verifyResult)).message)"
            handshakeError = error
            finish(.handshakeFailed(detail))
        }
    }

    // MARK: 2. Host and policy

    /// The SNI callback has chosen the host during the handshake; check the client against its policy (this
    /// also runs for resumed sessions, whose certificate comes from the session), then go to a backend.
    private func handshakeCompleted() {
        handshakeCompletedAt = worker.loop.now
        worker.metrics?.handshakeCompleted(nanoseconds: handshakeCompletedAt &- acceptedAt)
        guard let host = router.routedHost(for: tls) else {
            finish(.noHost)
            return
        }
        self.host = host
        // The backend section below connects to `route`: the host, or for an allow-list miss on a host with
        // `client_refused_backend` its refused route (same name and PROXY header, the other backend).
        var route: any RoutedHost = host
        let admission = host.admission(tls)
        if case .deny(let reason) = admission.decision {
            guard admission.allowListMiss, let refused = host.refusedClientRoute else {
                finish(.policyDenied(reason))
                return
            }
            route = refused
            redirectReason = reason
            worker.metrics?.clientRedirected(host: host.name)
        } else {
            allowEntry = admission.matchedEntry
            hostCounters = worker.metrics?.hostAdmitted(host.name, resumed: tls.sessionReused())
        }
        let selector = worker.backendSelector(for: route)
        guard !selector.slots.isEmpty else {
            finish(.backendUnavailable("no backend address could be resolved"))
            return
        }
        self.selector = selector
        // The backend's PROXY header goes first in the upstream buffer, ahead of any client byte read below.
        if host.proxyProtocol != .off {
            guard let header = proxyHeader(version: host.proxyProtocol), upstream.append(header, pool: worker.pool) else {
                finish(.internalError("PROXY header does not fit a buffer"))
                return
            }
        }
        guard !clientLeftEarly() else { return }
        phase = .connecting
        connectNextBackend()
    }

    /// Reads what the client has already sent, before a backend is connected: a client that has already
    /// closed with nothing to deliver (a health check, `openssl s_client < /dev/null`) is finished here as
    /// `client_gone` instead of costing a backend connection. Bytes read are kept in the upstream buffer and
    /// delivered once the backend is connected, also when the client closed right after them: after
    /// close_notify as a FIN, after a bare EOF as a reset once they are sent (`clientEOFAfterData`). Returns
    /// true when the connection was finished.
    private func clientLeftEarly() -> Bool {
        // Bounded: each pass fills part of the one buffer or stops.
        for _ in 0..<64 where upstream.hasSpace {
            guard let space = upstream.writableSpace(from: worker.pool) else {
                finish(.internalError("out of memory for a buffer"))
                return true
            }
            switch tls.read(into: space) {
            case .done(let count):
                guard count > 0 else { return false }
                upstream.commit(count)
                bytesFromClient &+= UInt64(count)
                hostCounters?.bytesIn.add(UInt64(count))
            case .wantRead:
                clientReadable = false
                tlsReadNeeds = .readable
                if upstream.isEmpty { upstream.release(to: worker.pool) }
                return false
            case .wantWrite:
                clientWritable = false
                tlsReadNeeds = .writable
                if upstream.isEmpty { upstream.release(to: worker.pool) }
                return false
            case .closed:
                clientInputDone = true
                firstClose = "client_close"
                if bytesFromClient == 0 {
                    finish(.clientGone)
                    return true
                }
                return false
            case .unexpectedEOF:
                if bytesFromClient == 0 {
                    finish(.clientGone)
                    return true
                }
                clientEOFAfterData = true
                return false
            case .failed(let error):
                finish(Self.isTransportError(error) ? .clientReset(Self.describe(error)) : .tlsError(Self.describe(error)))
                return true
            }
        }
        return false
    }

    // MARK: 3. Backend connect (balance, skip down addresses, failover to the next on failure)

    /// Connects to the next address the host's selector picks: the up addresses in the balance's order, then
    /// (all up ones failed, or none is up) the down ones in configuration order. Each address at most once.
    private func connectNextBackend() {
        guard let selector else { return }
        while let index = selector.pick(&attempts, now: worker.loop.now) {
            let candidate = selector.slots[index]
            backendLabel = candidate.label
            let fd = portcullis_socket_stream(candidate.address.domain)
            guard fd >= 0 else {
                // Out of descriptors is the proxy's problem, not the backend's: no passive-health failure.
                lastBackendError = "\(candidate.label): \(SystemCallError.last("socket"))"
                continue
            }
            if candidate.address.family != .unix { _ = portcullis_set_nodelay(fd) }
            let result = candidate.address.withSockaddr { connect(fd, $0, $1) }
            let connectErrno = errno
            guard result == 0 || connectErrno == EINPROGRESS else {
                let error = SystemCallError("connect", code: connectErrno)
                if let host { worker.metrics?.backendConnectFailed(host: host.name, backend: candidate.label) }
                worker.backendConnectFailed(selector, slot: index, reason: error.description)
                lastBackendError = "\(candidate.label): \(error)"
                close(fd)
                continue
            }
            do {
                backendToken = try worker.loop.register(fd, target: .backend(self))
            } catch {
                lastBackendError = "\(candidate.label): \(error)"
                close(fd)
                continue
            }
            backendFD = fd
            backendSlot = index
            selector.acquire(index)
            if result == 0 {
                backendConnected()
            } else {
                worker.loop.timers.schedule(self, at: worker.loop.now &+ worker.settings.backendConnectTimeout)
            }
            return
        }
        finish(.backendUnavailable(lastBackendError))
    }

    private func backendConnectFailed(_ reason: String) {
        if let host { worker.metrics?.backendConnectFailed(host: host.name, backend: backendLabel ?? "backend") }
        lastBackendError = "\(backendLabel ?? "backend"): \(reason)"
        if let selector, backendSlot >= 0 {
            worker.backendConnectFailed(selector, slot: backendSlot, reason: reason)
            releaseBackendSlot()
        }
        worker.loop.forget(backendToken)
        backendToken = .none
        close(backendFD)
        backendFD = -1
        backendReadable = false
        backendWritable = false
        backendHangup = false
        connectNextBackend()
    }

    /// Gives back the connection count this connection holds on its address (failover, close).
    private func releaseBackendSlot() {
        guard let selector, backendSlot >= 0 else { return }
        selector.release(selector.slots[backendSlot])
        backendSlot = -1
    }

    // MARK: 4. Streaming

    private func backendConnected() {
        if let selector, backendSlot >= 0 { worker.backendConnectSucceeded(selector, slot: backendSlot) }
        phase = .streaming
        backendReadable = true
        backendWritable = true
        lastActivity = worker.loop.now
        worker.loop.timers.schedule(self, at: lastActivity &+ worker.settings.idleTimeout)
        pump()
    }

    /// The PROXY header for this connection: the client's address and the address it connected to (both from
    /// the load balancer's header when the listener accepts one, so the backend sees the original client),
    /// plus (v2) ALPN, SNI and the TLS details, and with `proxy_client_certificate` the verified client's
    /// leaf certificate (DER); one too large for a buffer is left out (warned once per host), never fatal.
    private func proxyHeader(version: ProxyProtocolVersion) -> [UInt8]? {
        let destination = destinationAddress ?? SocketAddress.local(of: clientFD) ?? clientAddress
        if version == .v1 {
            return ProxyProtocolHeader.v1(source: clientAddress, destination: destination)
        }
        let certificate = tls.getPeerCertificate()
        let verify = tls.getVerifyResult()
        var details = ProxyProtocolHeader.TLSDetails(
            version: tls.getProtocolVersionName(),
            cipher: tls.getCipherName(),
            certificateOnConnection: certificate != nil && !tls.sessionReused(),
            certificateInSession: certificate != nil,
            verifyResult: certificate == nil ? 1 : UInt32(truncatingIfNeeded: verify),
            commonName: verify == 0 ? clientIdentity?.commonNames.first : nil
        )
        if let certificate, verify == 0, host?.proxyClientCertificate == true {
            details.clientCertificate = try? Crypto.dumpCertificate(.asn1, certificate)
        }
        let alpn = tls.getALPNProtoNegotiated()
        let authority = tls.getServername() ?? []
        var header = ProxyProtocolHeader.v2(source: clientAddress, destination: destination, alpn: alpn, authority: authority, tls: details)
        if let certificate = details.clientCertificate, header.map({ $0.count > BufferPool.bufferSize }) ?? true {
            OversizedCertificateWarning.note(host: host?.name ?? "?", certificateBytes: certificate.count, limit: BufferPool.bufferSize)
            details.clientCertificate = nil
            header = ProxyProtocolHeader.v2(source: clientAddress, destination: destination, alpn: alpn, authority: authority, tls: details)
        }
        guard let header, header.count <= BufferPool.bufferSize else { return nil }
        return header
    }

    // MARK: Events

    /// An event on the client socket.
    func clientSocketEvent(_ flags: UInt32) {
        if flags & (portcullis_EPOLLIN | portcullis_EPOLLRDHUP | portcullis_EPOLLHUP | portcullis_EPOLLERR) != 0 {
            clientReadable = true
        }
        if flags & (portcullis_EPOLLOUT | portcullis_EPOLLHUP | portcullis_EPOLLERR) != 0 {
            clientWritable = true
        }
        if flags & (portcullis_EPOLLRDHUP | portcullis_EPOLLHUP | portcullis_EPOLLERR) != 0 {
            clientHangup = true
        }
        switch phase {
        case .proxyHeader:
            if clientReadable { readProxyHeader() }
        case .handshaking:
            if isClientReady(handshakeNeeds) { continueHandshake() }
        case .streaming:
            pump()
        case .connecting, .closed:
            // While connecting, client bytes wait in the kernel (and in OpenSSL): the readiness is remembered.
            break
        }
    }

    /// An event on the backend socket.
    func backendSocketEvent(_ flags: UInt32) {
        let hangup = flags & (portcullis_EPOLLRDHUP | portcullis_EPOLLHUP | portcullis_EPOLLERR) != 0
        if hangup { backendHangup = true }
        switch phase {
        case .connecting:
            let error = portcullis_socket_error(backendFD)
            if error == 0, flags & portcullis_EPOLLOUT != 0 {
                worker.loop.timers.cancel(self)
                backendConnected()
            } else if error != 0 || hangup {
                worker.loop.timers.cancel(self)
                let code = error > 0 ? error : ECONNREFUSED
                backendConnectFailed(SystemCallError("connect", code: code).description)
            }
        case .streaming:
            if flags & (portcullis_EPOLLIN | portcullis_EPOLLRDHUP | portcullis_EPOLLHUP | portcullis_EPOLLERR) != 0 {
                backendReadable = true
            }
            if flags & (portcullis_EPOLLOUT | portcullis_EPOLLHUP | portcullis_EPOLLERR) != 0 {
                backendWritable = true
            }
            pump()
        case .proxyHeader, .handshaking, .closed:
            break
        }
    }

    @inline(__always)
    private func isClientReady(_ need: Need) -> Bool {
        need == .readable ? clientReadable : clientWritable
    }

    // MARK: 5. The pump

    /// Moves bytes both ways until nothing can progress (every side is blocked on readiness, a full or empty
    /// buffer, or is finished), forwarding half-closes, then closes the connection once both directions are
    /// done. Edge triggering requires exactly this: stop only at `EAGAIN`/`want*`.
    private func pump() {
        while phase == .streaming {
            var progressed = false
            if clientEOFAfterData {
                if upstream.isEmpty {
                    finish(.clientTruncated)
                    return
                }
            } else if !clientInputDone, upstream.hasSpace, isClientReady(tlsReadNeeds) {
                switch readFromClient() {
                case .progressed: progressed = true
                case .blocked: break
                case .ended: return
                }
            }
            if !upstream.isEmpty, backendWritable {
                switch writeToBackend() {
                case .progressed: progressed = true
                case .blocked: break
                case .ended: return
                }
            }
            if clientInputDone, upstream.isEmpty, !backendOutputClosed {
                // The client's close_notify becomes a FIN towards the backend; its other direction stays open.
                _ = shutdown(backendFD, Int32(SHUT_WR))
                backendOutputClosed = true
                progressed = true
            }
            if !backendInputDone, downstream.hasSpace, backendReadable {
                switch readFromBackend() {
                case .progressed: progressed = true
                case .blocked: break
                case .ended: return
                }
            }
            if !downstream.isEmpty, isClientReady(tlsWriteNeeds) {
                switch writeToClient() {
                case .progressed: progressed = true
                case .blocked: break
                case .ended: return
                }
            }
            if backendInputDone, downstream.isEmpty, !clientOutputClosed, isClientReady(tlsShutdownNeeds) {
                switch sendCloseNotify() {
                case .progressed: progressed = true
                case .blocked: break
                case .ended: return
                }
            }
            if backendOutputClosed, clientOutputClosed {
                finish(.completed)
                return
            }
            if !progressed { return }
        }
    }

    /// Client -> upstream: decrypt until OpenSSL wants the socket (records it already pulled off the socket
    /// never wake epoll again) or the buffer is full.
    private func readFromClient() -> Step {
        guard let space = upstream.writableSpace(from: worker.pool) else {
            finish(.internalError("out of memory for a buffer"))
            return .ended
        }
        switch tls.read(into: space) {
        case .done(let count):
            upstream.commit(count)
            bytesFromClient &+= UInt64(count)
            hostCounters?.bytesIn.add(UInt64(count))
            lastActivity = worker.loop.now
            tlsReadNeeds = .readable
            return .progressed
        case .wantRead:
            clientReadable = false
            tlsReadNeeds = .readable
            if upstream.isEmpty { upstream.release(to: worker.pool) }
            return .blocked
        case .wantWrite:
            clientWritable = false
            tlsReadNeeds = .writable
            if upstream.isEmpty { upstream.release(to: worker.pool) }
            return .blocked
        case .closed:
            clientInputDone = true
            if firstClose == nil { firstClose = "client_close" }
            if upstream.isEmpty { upstream.release(to: worker.pool) }
            return .progressed
        case .unexpectedEOF:
            finish(.clientTruncated)
            return .ended
        case .failed(let error):
            if Self.isTransportError(error) {
                finish(.clientReset(Self.describe(error)))
            } else {
                finish(.tlsError(Self.describe(error)))
            }
            return .ended
        }
    }

    /// Upstream -> backend.
    private func writeToBackend() -> Step {
        let bytes = upstream.readable()
        let sent = portcullis_send(backendFD, bytes.baseAddress, UInt(bytes.count))
        if sent > 0 {
            upstream.consume(sent, pool: worker.pool)
            lastActivity = worker.loop.now
            // A short write means the socket buffer is full; the kernel then reports EPOLLOUT when it drains.
            if sent < bytes.count { backendWritable = false }
            return .progressed
        }
        let code = errno
        switch code {
        case EAGAIN, EWOULDBLOCK:
            backendWritable = false
            return .blocked
        case EINTR:
            return .progressed
        default:
            finish(.backendReset(SystemCallError("send", code: code).description))
            return .ended
        }
    }

    /// Backend -> downstream.
    private func readFromBackend() -> Step {
        guard let space = downstream.writableSpace(from: worker.pool) else {
            finish(.internalError("out of memory for a buffer"))
            return .ended
        }
        let received = portcullis_recv(backendFD, space.baseAddress, UInt(space.count))
        if received > 0 {
            downstream.commit(received)
            bytesToClient &+= UInt64(received)
            hostCounters?.bytesOut.add(UInt64(received))
            lastActivity = worker.loop.now
            // A short read drained the socket unless a FIN or error is pending behind the data.
            if received < space.count, !backendHangup { backendReadable = false }
            return .progressed
        }
        if received == 0 {
            backendInputDone = true
            if firstClose == nil { firstClose = "backend_close" }
            if downstream.isEmpty { downstream.release(to: worker.pool) }
            return .progressed
        }
        let code = errno
        switch code {
        case EAGAIN, EWOULDBLOCK:
            backendReadable = false
            if downstream.isEmpty { downstream.release(to: worker.pool) }
            return .blocked
        case EINTR:
            return .progressed
        default:
            finish(.backendReset(SystemCallError("recv", code: code).description))
            return .ended
        }
    }

    /// Downstream -> client (encrypt). A write OpenSSL could not finish is retried with the same length.
    private func writeToClient() -> Step {
        let length = pendingTLSWrite > 0 ? pendingTLSWrite : downstream.count
        switch tls.write(downstream.readable(limit: length)) {
        case .done(let count):
            downstream.consume(count, pool: worker.pool)
            pendingTLSWrite = 0
            tlsWriteNeeds = .writable
            lastActivity = worker.loop.now
            return .progressed
        case .wantWrite:
            clientWritable = false
            tlsWriteNeeds = .writable
            pendingTLSWrite = length
            return .blocked
        case .wantRead:
            clientReadable = false
            tlsWriteNeeds = .readable
            pendingTLSWrite = length
            return .blocked
        case .closed, .unexpectedEOF:
            finish(.clientReset("connection closed while writing"))
            return .ended
        case .failed(let error):
            finish(.clientReset(Self.describe(error)))
            return .ended
        }
    }

    /// The backend's FIN becomes our close_notify; the client may still send (TLS 1.3 half-close).
    private func sendCloseNotify() -> Step {
        switch tls.shutdownStep() {
        case .done, .closed:
            clientOutputClosed = true
            return .progressed
        case .wantWrite:
            clientWritable = false
            tlsShutdownNeeds = .writable
            return .blocked
        case .wantRead:
            clientReadable = false
            tlsShutdownNeeds = .readable
            return .blocked
        case .unexpectedEOF:
            finish(.clientReset("connection closed while sending close_notify"))
            return .ended
        case .failed(let error):
            finish(.clientReset(Self.describe(error)))
            return .ended
        }
    }

    // MARK: Timers

    func timerFired(now: UInt64) {
        switch phase {
        case .proxyHeader:
            finish(proxyHeaderBytesSeen == 0 ? .handshakeTimeout
                   : .proxyHeaderInvalid("incomplete PROXY header (\(proxyHeaderBytesSeen) bytes) when the handshake timeout expired"))
        case .handshaking:
            finish(.handshakeTimeout)
        case .connecting:
            backendConnectFailed("connect timed out")
        case .streaming:
            // Lazy idle timer: transfers only update `lastActivity`; re-arm if something moved since.
            let deadline = lastActivity &+ worker.settings.idleTimeout
            if deadline <= now {
                finish(.idleTimeout)
            } else {
                worker.loop.timers.schedule(self, at: deadline)
            }
        case .closed:
            break
        }
    }

    // MARK: 6. Close

    /// Ends the connection for `reason`: closes (or aborts) both sockets so that each peer learns the truth,
    /// returns the buffers, and hands the access-log record to the worker.
    ///
    /// - A clean end of one side reaches the other as a clean end (FIN / close_notify), in `pump`.
    /// - A reset, a TLS error or a truncated TLS stream (EOF without close_notify) on the client side aborts
    ///   the backend with an RST (`SO_LINGER` 0): a backend must never take a truncated stream as complete.
    /// - A backend reset aborts the client the same way (no close_notify).
    /// - Refusals after the handshake (no host, policy, no backend) send close_notify, then close.
    func finish(_ reason: CloseReason) {
        guard phase != .closed else { return }
        let handshakeDone = handshakeCompletedAt != 0
        phase = .closed
        worker.loop.timers.cancel(self)
        let record = worker.accessLog == nil ? nil : makeRecord(reason, handshakeDone: handshakeDone)
        worker.metrics?.connectionClosed(reason, host: hostCounters, tls: tls, handshakeError: handshakeError) {
            host?.name ?? router.routedHost(for: tls)?.name
        }

        var abortClient = false
        var abortBackend = false
        var closeNotify = false
        switch reason {
        case .completed:
            break
        case .clientTruncated, .clientReset, .tlsError:
            abortBackend = true
        case .backendReset, .proxySourceDenied, .clientLimit:
            abortClient = true
        case .drainDeadline, .internalError:
            abortClient = true
            abortBackend = true
        case .idleTimeout:
            // Nothing in flight: a graceful close loses nothing (and keeps the TLS session resumable).
            // Bytes stuck in a buffer would be lost: then say so with resets.
            if upstream.isEmpty, downstream.isEmpty, pendingTLSWrite == 0 {
                closeNotify = !clientOutputClosed
            } else {
                abortClient = true
                abortBackend = true
            }
        case .noHost, .policyDenied, .backendUnavailable:
            closeNotify = true
        case .handshakeFailed, .handshakeTimeout, .clientClosedDuringHandshake, .proxyHeaderInvalid:
            break
        case .clientGone:
            // Answer a close_notify with ours; after a bare EOF there is nobody to tell.
            closeNotify = clientInputDone
        }
        if closeNotify { _ = tls.shutdownStep() }

        upstream.release(to: worker.pool)
        downstream.release(to: worker.pool)
        releaseBackendSlot()
        worker.loop.forget(clientToken)
        clientToken = .none
        if abortClient { _ = portcullis_set_linger_zero(clientFD) }
        close(clientFD)
        if backendFD >= 0 {
            worker.loop.forget(backendToken)
            backendToken = .none
            if abortBackend { _ = portcullis_set_linger_zero(backendFD) }
            close(backendFD)
            backendFD = -1
        }
        worker.connectionFinished(self, record: record)
    }

    /// Forces the connection closed (drain deadline).
    func abort(_ reason: CloseReason) {
        finish(reason)
    }

    private func makeRecord(_ reason: CloseReason, handshakeDone: Bool) -> ConnectionRecord {
        let now = worker.loop.now
        var record = ConnectionRecord(
            acceptedAt: Double(acceptedAtWall) / 1_000_000_000,
            clientAddress: clientAddress.description,
            listener: listenerName,
            via: viaAddress?.description,
            closeReason: reason == .completed ? (firstClose ?? "client_close") : reason.code,
            error: reason.detail
        )
        record.serverName = tls.getServername().map { String(decoding: $0, as: UTF8.self) }
        record.host = host?.name ?? router.routedHost(for: tls)?.name
        if handshakeDone {
            record.tlsVersion = tls.getProtocolVersionName()
            record.cipher = tls.getCipherName()
            let alpn = tls.getALPNProtoNegotiated()
            record.alpn = alpn.isEmpty ? nil : String(decoding: alpn, as: UTF8.self)
            record.sessionReused = tls.sessionReused()
            record.handshakeDuration = .fromNanoseconds(handshakeCompletedAt &- acceptedAt)
        }
        if let certificate = tls.getPeerCertificate() {
            // OpenSSL's one-line form (`/C=../O=../CN=..`), as HAProxy's ssl_c_s_dn logs it.
            record.clientSubject = certificate.getSubject().oneline
        }
        let verifyResult = tls.getVerifyResult()
        if record.clientSubject != nil || verifyResult != 0 {
            record.clientVerify = X509VerificationCode(rawValue: Int32(verifyResult)).message
        }
        record.backend = backendLabel
        record.allowedBy = allowEntry
        record.redirected = redirectReason
        record.bytesFromClient = bytesFromClient
        record.bytesToClient = bytesToClient
        record.totalDuration = .fromNanoseconds(now &- acceptedAt)
        return record
    }

    // MARK: Helpers

    /// Bytes waiting in each direction's buffer, and whether each buffer holds pool memory (for tests and
    /// diagnostics).
    var bufferState: (upstream: Int, downstream: Int, holdsMemory: Int) {
        (upstream.count, downstream.count, (upstream.holdsMemory ? 1 : 0) + (downstream.holdsMemory ? 1 : 0))
    }

    /// A transport failure (reset, broken pipe) as opposed to a TLS protocol error.
    private static func isTransportError(_ error: any Error) -> Bool {
        if case SSLError.sysCall = error { return true }
        return false
    }

    static func describe(_ error: any Error) -> String {
        String(describing: error)
    }
}
