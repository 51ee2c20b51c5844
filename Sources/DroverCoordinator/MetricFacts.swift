import DroverCore

/// What a transition's mutations tell the counters and histograms: attempts ended, tasks
/// leased, jobs admitted (first lease), cost booked. Read from the audit events and ledger
/// rows the core already produces, under the cluster lock (for a job's team), in one pass
/// that allocates nothing when there is nothing to count; recorded once they are durable.
struct MetricFacts: Equatable, Sendable {
    struct Ended: Equatable, Sendable { var team: String; var outcome: AttemptState }
    struct Admitted: Equatable, Sendable { var team: String; var waitMilliseconds: Int64 }
    struct Booked: Equatable, Sendable { var team: String; var micros: Int64 }

    var ended: [Ended] = []
    /// The team of each task leased.
    var leased: [String] = []
    var admitted: [Admitted] = []
    var booked: [Booked] = []

    var isEmpty: Bool { ended.isEmpty && leased.isEmpty && admitted.isEmpty && booked.isEmpty }

    init() {}

    init(_ mutations: [Mutation], in state: borrowing ClusterState) {
        for mutation in mutations {
            switch mutation {
            case .appendEvent(let event):
                note(event, in: state)
            case .appendLedger(let entry) where entry.amountMicros > 0 && entry.reverses == nil:
                booked.append(Booked(team: entry.team, micros: entry.amountMicros))
            default:
                continue
            }
        }
    }

    /// The events of the three changes counted: an attempt leaving `running`, a task going
    /// from `queued` to `running` (a lease), and a job's first lease.
    private mutating func note(_ event: Event, in state: borrowing ClusterState) {
        guard let id = event.job, let first = event.subject.utf8.first else { return }
        switch first {
        case UInt8(ascii: "a") where event.from == AttemptState.running.rawValue && event.subject.hasPrefix("attempt/"):
            guard let outcome = AttemptState(rawValue: event.to), outcome != .running, let team = state.jobs[id]?.record.spec.team else { return }
            ended.append(Ended(team: team, outcome: outcome))
        case UInt8(ascii: "t") where event.from == TaskState.queued.rawValue && event.to == TaskState.running.rawValue:
            guard let team = state.jobs[id]?.record.spec.team else { return }
            leased.append(team)
        case UInt8(ascii: "j") where event.reason == ClusterState.JobRuntime.firstLeaseReason:
            guard let record = state.jobs[id]?.record else { return }
            admitted.append(Admitted(team: record.spec.team, waitMilliseconds: max(0, event.at.milliseconds(since: record.submittedAt))))
        default:
            return
        }
    }
}
