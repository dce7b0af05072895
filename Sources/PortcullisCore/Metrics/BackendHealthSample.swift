/// One checked backend address at a scrape: `portcullis_backend_up` and `portcullis_backend_checks_total`.
struct BackendHealthSample: Sendable, Equatable {
    var host: String
    var backend: String
    var up: Bool
    var succeeded: UInt64
    var failed: UInt64
    var timedOut: UInt64

    init(host: String, backend: String, up: Bool, succeeded: UInt64 = 0, failed: UInt64 = 0, timedOut: UInt64 = 0) {
        self.host = host
        self.backend = backend
        self.up = up
        self.succeeded = succeeded
        self.failed = failed
        self.timedOut = timedOut
    }

    init(_ state: BackendHealthState) {
        self.init(host: state.host, backend: state.label, up: state.isUp, succeeded: state.checksSucceeded.value,
                  failed: state.checksFailed.value, timedOut: state.checksTimedOut.value)
    }
}
