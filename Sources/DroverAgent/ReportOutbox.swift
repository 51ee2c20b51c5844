import DroverCore
import DroverAPI
import Logging
import ServiceLifecycle
import Synchronization

/// Reports of ended attempts, on their way to the coordinator. They are delivered in the
/// order they were queued, at least once (a batch that fails goes back to the head of the
/// queue and is resent after a backoff; the coordinator answers a resend `duplicate`), and
/// batched: each request carries everything queued by then. Each request also asks for
/// leases for the capacity its reports freed (`ReportBatch.maxLeases`), one round trip
/// instead of a report and a poll, except once the agent is shutting down.
///
/// One task sends (`run`), so batches never overtake each other.
final class ReportOutbox: Sendable {
    private struct State {
        var pending: [ReportView] = []
        /// The batch sent and not answered yet.
        var inFlight: [ReportView] = []
        var closing = false
    }
    private let state = Mutex(State())
    private let kicks: AsyncStream<Void>
    private let kick: AsyncStream<Void>.Continuation
    /// Opened once closing and everything is delivered.
    private let drained = Latch()
    let link: any CoordinatorLink
    let clock: any MonotonicClock
    let contact: CoordinatorContact
    /// Leases to ask for with each batch.
    let maxLeases: Int
    let logger: Logger

    init(link: any CoordinatorLink, clock: any MonotonicClock, contact: CoordinatorContact, maxLeases: Int, logger: Logger) {
        (kicks, kick) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        self.link = link
        self.clock = clock
        self.contact = contact
        self.maxLeases = maxLeases
        self.logger = logger
    }

    /// Reports not sent yet (or sent and failed).
    var pendingCount: Int { state.withLock { $0.pending.count } }

    /// Attempts whose report the coordinator has not answered yet (queued or in flight).
    var undeliveredAttemptIds: [String] { state.withLock { ($0.inFlight + $0.pending).map(\.attemptId) } }

    /// Queues a report for delivery.
    func enqueue(_ report: ReportView) {
        state.withLock { $0.pending.append(report) }
        kick.yield()
    }

    /// Delivers reports as they are queued, until cancelled; `onLeases` gets the leases the
    /// answers carry.
    func run(onLeases: @Sendable ([LeaseView]) -> Void) async {
        for await _ in kicks {
            await deliverPending(onLeases: onLeases)
            if state.withLock({ $0.closing && $0.pending.isEmpty }) { drained.open() }
        }
    }

    /// Stops asking for leases and waits until every queued report is delivered, or
    /// `timeout` passed; true if they were delivered.
    @discardableResult
    func flush(timeout: Duration) async -> Bool {
        state.withLock { $0.closing = true }
        kick.yield()
        let delivered = await drained.wait(orUntil: clock.now + timeout, on: clock)
        if !delivered { logger.warning("shutting down with reports undelivered", metadata: ["reports": "\(pendingCount)", "waited": "\(timeout)"]) }
        return delivered
    }

    /// Sends everything queued, batch after batch, until the queue is empty (or cancelled).
    private func deliverPending(onLeases: ([LeaseView]) -> Void) async {
        var backoff = Backoff(initial: .milliseconds(100))
        while true {
            let (batch, closing) = state.withLock { state in
                defer { (state.inFlight, state.pending) = (state.pending, []) }
                return (state.pending, state.closing)
            }
            guard !batch.isEmpty else { return }
            let takeLeases = !closing && !Task.isShuttingDownGracefully && !Task.isCancelled
            do {
                let results = try await link.report(ReportBatch(reports: batch, maxLeases: takeLeases ? maxLeases : nil))
                state.withLock { $0.inFlight = [] }
                contact.noteContact()
                backoff.reset()
                if let leases = results.leases { onLeases(leases) }
                for result in results.results where !result.status.isCommitted {
                    logger.warning("report refused", metadata: ["attempt.id": "\(result.attemptId)", "status": "\(result.status)", "detail": "\(result.detail ?? "")"])
                }
            } catch {
                logger.warning("cannot deliver reports; will retry", metadata: ["error": "\(error)", "reports": "\(batch.count)"])
                state.withLock { state in
                    state.pending.insert(contentsOf: batch, at: 0)
                    state.inFlight = []
                }
                if Task.isCancelled { return }
                try? await clock.sleep(for: backoff.next())
            }
        }
    }
}
