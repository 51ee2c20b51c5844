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
public final class Journal: Service {
    private struct State {
        var pending: [Mutation] = []
        var appendedSequence: UInt64 = 0
        var durableSequence: UInt64 = 0
        var waiters: [(sequence: UInt64, continuation: CheckedContinuation<Void, any Error>)] = []
        var failure: (any Error)?
    }

    private let state = Mutex(State())
    private let store: any Store
    private let logger: Logger
    private let kick: AsyncStream<Void>.Continuation
    private let kicks: AsyncStream<Void>

    public init(store: any Store, logger: Logger) {
        self.store = store
        self.logger = logger
        (kicks, kick) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// The ticket of everything appended so far: waiting on it makes every change the state
    /// already shows durable. Call under the cluster lock.
    public var lastTicket: UInt64 { state.withLock { $0.appendedSequence } }

    /// Queues mutations; returns the ticket to wait on. Call under the cluster lock.
    public func append(_ mutations: [Mutation]) -> UInt64 {
        guard !mutations.isEmpty else { return 0 }
        let sequence = state.withLock { state in
            state.pending.append(contentsOf: mutations)
            state.appendedSequence += 1
            return state.appendedSequence
        }
        kick.yield()
        return sequence
    }

    /// Returns once everything up to `ticket` is in the store.
    public func waitDurable(_ ticket: UInt64) async throws {
        guard ticket > 0 else { return }
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let outcome: Result<Void, any Error>? = state.withLock { state in
                if let failure = state.failure { return .failure(failure) }
                if state.durableSequence >= ticket { return .success(()) }
                state.waiters.append((ticket, continuation))
                return nil
            }
            if let outcome { continuation.resume(with: outcome) }
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
            do {
                try await store.apply(batch)
            } catch {
                // Memory already holds changes the store refused: the two disagree, and only a
                // restart (which reloads from the store) makes them agree again. Answer no one.
                logger.critical("store write failed; stopping so a restart reloads the durable state", metadata: ["error": "\(error)"])
                let waiters = state.withLock { state in
                    state.failure = error
                    defer { state.waiters = [] }
                    return state.waiters
                }
                for waiter in waiters { waiter.continuation.resume(throwing: error) }
                fatalError("store write failed: \(error)")
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
}
