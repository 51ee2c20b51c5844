import DroverAPI
import Foundation

/// What a chaos run saw: the jobs the coordinator acknowledged, their final committed state,
/// the task processes seen alive at once, and the coordinator's quota use over time.
public struct ChaosHistory: Sendable {
    /// Ids of the jobs whose submit was answered (acknowledged), in order.
    public var acknowledged: [String] = []
    /// Every acknowledged job as the coordinator holds it at the end.
    public var finalJobs: [String: JobView] = [:]
    /// The longest time two attempts of one task ran at once, per task (`JOB/TASK`), in seconds.
    public var longestDoubleRun: [String: Double] = [:]
    /// Tasks running for a team, as the coordinator counted them, against that team's task limit.
    public var quotaSamples: [(team: String, running: Int, limit: Int)] = []
    /// Price of one CPU-second on every node.
    public var pricePerCPUSecond: Decimal = 1
    /// CPUs each task of a job asked for, by job id.
    public var cpuOfJob: [String: Double] = [:]

    public init() {}
}

/// The properties a chaos run must keep, checked on its history.
public enum HistoryChecker {
    /// A property the history broke, in words.
    public struct Violation: CustomStringConvertible, Sendable, Equatable {
        public var description: String
    }

    /// Every violation of: each acknowledged job reached a terminal state; each task has at
    /// most one committed success; no task ran twice at once for longer than `doubleRunLimit`
    /// seconds (the disconnect grace, plus what sampling adds); no attempt was charged for
    /// more time than it ran; no team's running tasks exceeded its limit.
    public static func violations(_ history: ChaosHistory, doubleRunLimit: Double) -> [Violation] {
        var found: [Violation] = []
        for id in history.acknowledged {
            guard let job = history.finalJobs[id] else {
                found.append(Violation(description: "job \(id) was acknowledged but the coordinator does not have it"))
                continue
            }
            if ![.succeeded, .failed, .cancelled].contains(job.state) {
                found.append(Violation(description: "job \(id) was acknowledged but ended the run \(job.state.rawValue)"))
            }
            let successes = Dictionary(grouping: (job.attempts ?? []).filter { $0.outcome == .succeeded }, by: \.task)
            for (task, attempts) in successes where attempts.count > 1 {
                found.append(Violation(description: "job \(id) task \(task) has \(attempts.count) committed successes (attempts \(attempts.map(\.attempt)))"))
            }
            let cpu = Decimal(history.cpuOfJob[id] ?? 1)
            for attempt in job.attempts ?? [] where attempt.cost > 0 {
                guard let started = WireTime.parse(attempt.startedAt), let ended = attempt.endedAt.flatMap(WireTime.parse) else { continue }
                let ran = Decimal(max(0, ended - started)) / 1000
                // Booked in whole milliseconds and rounded per booking: a cent of slack.
                let allowed = ran * cpu * history.pricePerCPUSecond + Decimal(string: "0.01")!
                if attempt.cost > allowed {
                    found.append(Violation(description: "attempt \(attempt.id) of job \(id) cost \(attempt.cost) for \(ran) s of \(cpu) CPU (at most \(allowed))"))
                }
            }
        }
        for (task, seconds) in history.longestDoubleRun.sorted(by: { $0.key < $1.key }) where seconds > doubleRunLimit {
            found.append(Violation(description: String(format: "task %@ ran on two nodes at once for %.1f s (limit %.1f s)", task, seconds, doubleRunLimit)))
        }
        for sample in history.quotaSamples where sample.running > sample.limit {
            found.append(Violation(description: "team \(sample.team) had \(sample.running) tasks running over its limit of \(sample.limit)"))
        }
        return found
    }

}
