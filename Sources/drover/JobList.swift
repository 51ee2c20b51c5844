import DroverAPI
import DroverCore

/// The table of `drover jobs`: like squeue, who submitted each job, how far it is, how long it
/// has taken and, while it waits, why (its REASON column, as squeue's NODELIST(REASON)).
enum JobList {
    static let header = ["ID", "NAME", "TEAM", "SUBMITTER", "STATE", "TASKS", "ELAPSED", "COST", "REASON"]
    /// The columns of numbers, right-aligned: ID, TASKS, ELAPSED, COST.
    static let numericColumns: Set<Int> = [0, 5, 6, 7]
    /// Longer reasons are cut here; `drover job show ID` has them whole.
    static let reasonWidth = 40

    /// The table, elapsed times counted to `now` (Unix milliseconds) for jobs not ended.
    static func table(_ jobs: [JobView], now: Int64) -> String {
        let costs = Output.moneyColumn(jobs.map(\.cost))
        return Output.table(header, zip(jobs, costs).map { row($0, cost: $1, now: now) }, rightAligned: numericColumns)
    }

    /// One job's row, its cost already formatted with the column's decimals.
    static func row(_ job: JobView, cost: String, now: Int64) -> [String] {
        [job.id, job.name, job.team, job.submittedBy, job.state.rawValue, tasks(job.tasks), elapsed(job, now: now), cost,
         truncate(reason(job), to: reasonWidth)]
    }

    /// Tasks that ended (succeeded, failed or cancelled) of all: `3/10`.
    static func tasks(_ counts: TaskCounts) -> String {
        "\(counts.succeeded + counts.failed + counts.cancelled)/\(counts.total)"
    }

    /// From the job's first start (its submission while it never started) to its end, or to
    /// `now` while it has not ended: `3m12s`.
    static func elapsed(_ job: JobView, now: Int64) -> String {
        guard let from = WireTime.parse(job.startedAt ?? job.submittedAt) else { return "-" }
        let to = job.endedAt.flatMap(WireTime.parse) ?? now
        return Quantity.formatDuration(max(0, to - from))
    }

    /// Why queued tasks wait, while the job has not ended; why it ended, when it failed or was cancelled.
    static func reason(_ job: JobView) -> String {
        switch job.state {
        case .queued, .running: job.pendingReason ?? ""
        case .failed, .cancelled: job.reason ?? ""
        case .succeeded: ""
        }
    }

    /// `text` cut to `width` characters, the cut marked with `…`.
    static func truncate(_ text: String, to width: Int) -> String {
        text.count <= width ? text : String(text.prefix(width - 1)) + "…"
    }
}
