import DroverCore
import DroverAPI
import DroverClient
import Logging
import Synchronization

/// The calls the agent's parts make to the coordinator once registered: `DroverClient` in
/// production, stubs in the parts' tests.
protocol CoordinatorLink: Sendable {
    func poll(_ request: PollRequest) async throws -> PollResponse
    func heartbeat(_ request: HeartbeatRequest) async throws -> HeartbeatResponse
    func report(_ batch: ReportBatch) async throws -> ReportResults
    func uploadLog(attempt: String, offset: Int64, data: [UInt8]) async throws
}

extension DroverClient: CoordinatorLink {}

/// When the agent last reached the coordinator, whichever part's request did it; the
/// heartbeat judges the disconnect grace by it.
final class CoordinatorContact: Sendable {
    private struct State {
        var last: ContinuousClock.Instant
        var disconnected = false
    }
    private let state: Mutex<State>
    private let clock: any MonotonicClock
    private let logger: Logger

    init(clock: any MonotonicClock, logger: Logger) {
        self.clock = clock
        self.logger = logger
        state = Mutex(State(last: clock.now))
    }

    /// A request to the coordinator succeeded.
    func noteContact() {
        let now = clock.now
        let wasDisconnected = state.withLock { state in
            defer { (state.last, state.disconnected) = (now, false) }
            return state.disconnected
        }
        if wasDisconnected { logger.info("coordinator reachable again; delivering buffered reports") }
    }

    /// How long since the last answer.
    var silence: Duration { clock.now - state.withLock { $0.last } }

    /// Marks the agent disconnected; true the first time since the last contact.
    func markDisconnected() -> Bool {
        state.withLock { state in
            defer { state.disconnected = true }
            return !state.disconnected
        }
    }
}

extension Error {
    /// The coordinator's HTTP status, when it answered with an error.
    var coordinatorStatus: Int? { (self as? DroverClientError)?.status }
}
