import DroverCore
import DroverStore
import Logging
import ServiceLifecycle
import Synchronization

/// Group commit: changes are appended in the order the state machine made them, and one
/// writer persists everything appended so far in a single transaction, then wakes every
/// request whose changes it contained.
///
/// Many concurrent requests thus share one fsync. Appending happens under the cluster
/// lock, so the store sees changes in exactly the order memory did.
///
/// A failed write does not stop the process: the batch's requests and every later one are
/// told the store is unavailable (``StoreUnavailable``), ``StoreHealth`` records the outage,
/// and nothing more is written until ``resume()``, which ``StoreRecovery`` calls once it has
/// reloaded memory from the store. Tickets of changes dropped in between never become durable.
public final class Journal: Service {
    private struct State {
        var pending: [Mutation] = []
        var appendedSequence: UInt64 = 0
        var durableSequence: UInt64 = 0
        var waiters: [(sequence: UInt64, continuation: CheckedContinuation<Void, any Error>)] = []
        /// Set from a failed write until ``resume()``; tickets after `durableSequence` fail.
        var failure: StoreUnavailable?
        /// Tickets of earlier outages: their changes were dropped and must never be reported durable.
        var lost: [ClosedRange<UInt64>] = []

        func lostTicket(_ ticket: UInt64) -> Bool {
            (failure != nil && ticket > durableSequence) || lost.contains { $0.contains(ticket) }
        }
    }

    private let state = Mutex(State())
    private let store: any Store
    private let health: StoreHealth
    private let monotonic: any MonotonicClock
    private let logger: Logger
    /// Where each commit's duration and size is recorded.
    private let metrics: CoordinatorMetrics
    private let kick: AsyncStream<Void>.Continuation
    private let kicks: AsyncStream<Void>

    public init(store: any Store, health: StoreHealth = StoreHealth(), monotonic: any MonotonicClock = ContinuousClock(),
                metrics: CoordinatorMetrics = CoordinatorMetrics(), logger: Logger) {
        self.store = store
        self.metrics = metrics
        self.health = health
        self.monotonic = monotonic
        self.logger = logger
        (kicks, kick) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// The ticket of everything appended so far: waiting on it makes every change the state
    /// already shows durable. Call under the cluster lock.
    public var lastTicket: UInt64 { state.withLock { $0.appendedSequence } }

    /// Requests waiting for their changes to become durable (for tests).
    var waiterCount: Int { state.withLock { $0.waiters.count } }

    /// Queues mutations; returns the ticket to wait on. Call under the cluster lock.
    public func append(_ mutations: [Mutation]) -> UInt64 {
        guard !mutations.isEmpty else { return 0 }
        let sequence = state.withLock { state in
            state.appendedSequence += 1
            // During an outage nothing is written: memory is reloaded from the store anyway.
            if state.failure == nil { state.pending.append(contentsOf: mutations) }
            return state.appendedSequence
        }
        kick.yield()
        return sequence
    }

    /// Returns once everything up to `ticket` is in the store; throws ``StoreUnavailable`` if
    /// its changes were dropped because a write failed.
    public func waitDurable(_ ticket: UInt64) async throws {
        guard ticket > 0 else { return }
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let outcome: Result<Void, any Error>? = state.withLock { state in
                if state.lostTicket(ticket) { return .failure(state.failure ?? StoreUnavailable(cause: "an earlier write failed", retryAfterSeconds: 1)) }
                if state.durableSequence >= ticket { return .success(()) }
                state.waiters.append((ticket, continuation))
                return nil
            }
            if let outcome { continuation.resume(with: outcome) }
        }
    }

    /// Ends an outage: what was appended since the failure is dropped for good and writing
    /// resumes. Call under the cluster lock, after the state was replaced by the store's.
    func resume() {
        state.withLock { state in
            guard state.failure != nil else { return }
            if state.appendedSequence > state.durableSequence {
                state.lost.append((state.durableSequence + 1)...state.appendedSequence)
            }
            // Everything before the reload is settled: durable or lost.
            state.durableSequence = state.appendedSequence
            state.pending = []
            state.failure = nil
        }
    }

    /// Writes batches until shutdown, then writes what is left.
    public func run() async throws {
        await withGracefulShutdownHandler {
            for await _ in kicks {
                await flush()
            }
        } onGracefulShutdown: {
            self.kick.finish()
        }
        await flush()
    }

    private func flush() async {
        while true {
            let (batch, sequence) = state.withLock { state in
                let batch = state.pending
                state.pending = []
                return (batch, state.appendedSequence)
            }
            guard !batch.isEmpty else { return }
            let started = monotonic.now
            do {
                try await store.apply(batch)
                metrics.committed(mutations: batch.count, in: monotonic.now - started)
            } catch {
                fail(error)
                return
            }
            let ready = state.withLock { state in
                state.durableSequence = sequence
                let ready = state.waiters.filter { $0.sequence <= sequence }
                state.waiters.removeAll { $0.sequence <= sequence }
                return ready
            }
            for waiter in ready { waiter.continuation.resume() }
        }
    }

    /// Memory now holds changes the store refused: answer everyone waiting that nothing was
    /// changed, and stop writing until the state has been reloaded from the store.
    private func fail(_ error: any Error) {
        logger.critical("store write failed; refusing changes (503) until the store is back and the state is reloaded from it",
                        metadata: ["error": "\(error)"])
        let failure = StoreUnavailable(cause: "\(error)", retryAfterSeconds: 1)
        let waiters = state.withLock { state in
            state.failure = failure
            state.pending = []
            defer { state.waiters = [] }
            return state.waiters
        }
        health.reportFailure(error, at: monotonic.now)
        for waiter in waiters { waiter.continuation.resume(throwing: failure) }
    }
}
