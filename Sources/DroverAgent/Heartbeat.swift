import DroverCore
import DroverAPI
import Logging
import Synchronization

/// Renews the leases of the attempts this agent holds, every `interval` of its clock, and
/// acts on the answer: attempts the coordinator no longer gives this agent (`unknown`) and
/// attempts of jobs that ended (`cancel`) are stopped.
///
/// Progress rides on the heartbeat. So that `wait` sees it as it changes rather than once an
/// interval, the progress files are read every `progressCheck` between beats, and a beat goes
/// out early when one changed: at most one a `progressCheck`, none while nothing changes (an
/// early beat costs the coordinator no store write).
///
/// It also keeps the disconnect grace. Every tick, whatever any request is doing, it checks
/// how long the coordinator has been silent to every part of the agent; past the grace the
/// coordinator has (or soon will have) given these tasks to other machines, so they are
/// stopped here and the same task does not run twice for long. A request in flight never
/// delays that: it runs beside the ticks, bounded by `requestTimeout`, one at a time.
final class Heartbeat: Sendable {
    let link: any CoordinatorLink
    let clock: any MonotonicClock
    let attempts: RunningAttempts
    let contact: CoordinatorContact
    let interval: Duration
    let grace: Duration
    let requestTimeout: Duration
    /// Attempts that ended here but whose report the coordinator has not answered: they are
    /// still listed, since the coordinator declares an attempt it leased here `lost` when a
    /// heartbeat leaves it out for longer than the TTL (its lease never reached the agent),
    /// and a heartbeat can overtake the report (both buffered while it was unreachable).
    let undeliveredReports: @Sendable () -> [String]
    let logger: Logger
    private struct Requests {
        var inFlight = false
        /// The last request failed (later failures are logged at debug level only: while
        /// unreachable there is one per interval).
        var failing = false
    }
    private let requests = Mutex(Requests())
    /// How often, between beats, the progress files are checked for news: at most once a second.
    var progressCheck: Duration { min(interval, .seconds(1)) }
    /// The progress the last beat carried, by attempt.
    private let sentProgress = Mutex<[String: JSONValue]>([:])

    /// `requestTimeout` defaults to `interval`: a later answer would be overtaken by the next beat.
    init(link: any CoordinatorLink, clock: any MonotonicClock, attempts: RunningAttempts, contact: CoordinatorContact,
         interval: Duration, grace: Duration, requestTimeout: Duration? = nil, undeliveredReports: @escaping @Sendable () -> [String] = { [] },
         logger: Logger) {
        self.link = link
        self.clock = clock
        self.attempts = attempts
        self.contact = contact
        self.interval = interval
        self.grace = grace
        self.requestTimeout = requestTimeout ?? interval
        self.undeliveredReports = undeliveredReports
        self.logger = logger
    }

    /// Ticks until cancelled.
    func run() async {
        await withDiscardingTaskGroup { group in
            var next = clock.now + interval
            while true {
                do { try await clock.sleep(until: min(next, clock.now + progressCheck), tolerance: nil) } catch { break }
                if clock.now < next {
                    if progressChanged(), startRequest() { group.addTask { await self.beat() } }
                    continue
                }
                // After a freeze (SIGSTOP, a suspended VM) tick once, not once per missed interval.
                next += interval
                if next <= clock.now { next = clock.now + interval }
                let overdue = stopIfSilentPastGrace()
                if !overdue.isEmpty { group.addTask { await self.attempts.terminate(overdue) } }
                if startRequest() { group.addTask { await self.beat() } }
            }
        }
    }

    /// Asks every attempt to stop once the coordinator has been silent past the grace;
    /// returns the processes to terminate.
    func stopIfSilentPastGrace() -> [RunningProcess] {
        let silence = contact.silence
        guard silence > grace else { return [] }
        let first = contact.markDisconnected()
        let reason = "agent could not reach the coordinator for \(silence); stopped after the disconnect grace of \(grace)"
        let (count, processes) = attempts.requestStopAll(.cancelled(reason))
        if first || count > 0 {
            logger.error("coordinator unreachable past the disconnect grace; stopping all tasks",
                         metadata: ["silent": "\(silence)", "grace": "\(grace)", "attempts": "\(count)"])
        }
        return processes
    }

    /// Whether a held attempt's progress file has a line the last beat did not carry.
    private func progressChanged() -> Bool {
        let sent = sentProgress.withLock { $0 }
        return attempts.heartbeatEntries().contains { entry in
            guard let latest = ProgressFile.latest(at: entry.progressPath) else { return false }
            return sent[entry.id] != latest
        }
    }

    /// Whether a beat is being sent or its answer acted on.
    var requestInFlight: Bool { requests.withLock { $0.inFlight } }

    /// Claims the one request slot; false while a request is still in flight.
    private func startRequest() -> Bool {
        requests.withLock { requests in
            defer { requests.inFlight = true }
            return !requests.inFlight
        }
    }

    /// Sends one heartbeat and acts on its answer; returns once the stops it asked for are done.
    func beat() async {
        // Held attempts first: an attempt moves to the outbox before it leaves `attempts`.
        var beats = attempts.heartbeatEntries().map { HeartbeatAttempt(attemptId: $0.id, progress: ProgressFile.latest(at: $0.progressPath)) }
        sentProgress.withLock { sent in sent = beats.reduce(into: [:]) { sent, beat in sent[beat.attemptId] = beat.progress } }
        let listed = Set(beats.map(\.attemptId))
        beats += undeliveredReports().filter { !listed.contains($0) }.map { HeartbeatAttempt(attemptId: $0, progress: nil) }
        let answer: Result<HeartbeatResponse?, any Error>
        do {
            answer = .success(try await clock.withTimeout(requestTimeout) { [link, beats] in try await link.heartbeat(HeartbeatRequest(attempts: beats)) })
        } catch {
            answer = .failure(error)
        }
        // Contact is noted before the slot is freed, so a later beat never precedes it.
        if case .success(.some) = answer { contact.noteContact() }
        let failedBefore = requests.withLock { requests in
            defer { (requests.inFlight, requests.failing) = (false, !answer.isAnswer) }
            return requests.failing
        }
        switch answer {
        case .success(let response?):
            await act(on: response)
        case .success(nil):
            logFailure("no answer within \(requestTimeout)", first: !failedBefore)
        case .failure(let error):
            if !Task.isCancelled { logFailure("\(error)", first: !failedBefore) }
        }
    }

    private func logFailure(_ error: String, first: Bool) {
        logger.log(level: first ? .warning : .debug, "heartbeat failed", metadata: ["error": "\(error)"])
    }

    /// Stops are asked in the answer's order (an attempt in both lists is `unknown`), then
    /// their processes terminated together.
    private func act(on response: HeartbeatResponse) async {
        var processes: [RunningProcess] = []
        // An attempt that already ended here is unknown once its report is committed: nothing to do.
        for id in response.unknown where attempts.holds(id) {
            logger.warning("coordinator no longer holds this attempt; killing it", metadata: ["attempt.id": "\(id)"])
            processes += attempts.requestStop(id, .cancelled("lease no longer held")).map { [$0] } ?? []
        }
        for id in response.cancel {
            processes += attempts.requestStop(id, .cancelled(Self.cancelledByCoordinator)).map { [$0] } ?? []
        }
        await attempts.terminate(processes)
    }

    /// Reason of an attempt stopped because its job ended (also used for a poll's `cancel`).
    static let cancelledByCoordinator = "job ended; stopped at the coordinator's request"
}

extension Result<HeartbeatResponse?, any Error> {
    fileprivate var isAnswer: Bool {
        if case .success(.some) = self { return true }
        return false
    }
}
