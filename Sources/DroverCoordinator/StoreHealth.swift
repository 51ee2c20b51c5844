import DroverCore
import Synchronization

/// Whether the store takes writes, as the journal last found it.
///
/// When a write fails, memory holds changes the store does not: from then on the coordinator
/// answers 503 instead of changing anything, until ``StoreRecovery`` has reloaded memory from
/// the store. Checking it costs one atomic load, so every mutation can afford it.
public final class StoreHealth: Sendable {
    /// The outage in progress.
    public struct Outage: Sendable {
        /// When the failing write happened, on the monotonic clock.
        public var since: ContinuousClock.Instant
        /// What the store said.
        public var error: String
    }

    private let available = Atomic<Bool>(true)
    private let outage = Mutex<Outage?>(nil)
    /// One element per outage that starts (the recovery waits on it).
    let outageStarts: AsyncStream<Void>
    private let signal: AsyncStream<Void>.Continuation

    public init() {
        (outageStarts, signal) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// False from a failed write until the state has been reloaded.
    public var isAvailable: Bool { available.load(ordering: .acquiring) }

    /// The outage in progress, if any.
    public var currentOutage: Outage? { outage.withLock { $0 } }

    /// Records a failed write; the first one of an outage wakes the recovery.
    func reportFailure(_ error: any Error, at uptime: ContinuousClock.Instant) {
        let first = outage.withLock { outage in
            guard outage == nil else { return false }
            outage = Outage(since: uptime, error: "\(error)")
            return true
        }
        guard first else { return }
        available.store(false, ordering: .releasing)
        signal.yield()
    }

    /// Ends the outage (the state was reloaded from the store).
    func recovered() {
        outage.withLock { $0 = nil }
        available.store(true, ordering: .releasing)
    }
}

/// The store refused a write (or the coordinator is reloading after one): nothing was changed.
public struct StoreUnavailable: Error, CustomStringConvertible {
    /// What the store said when the outage began.
    public var cause: String
    /// When a retry has a chance, in seconds.
    public var retryAfterSeconds: Int

    public var description: String {
        "the coordinator's store is unavailable (\(cause)); nothing was changed. Retry in \(retryAfterSeconds) s; the coordinator reloads its state once the store is back"
    }
}
