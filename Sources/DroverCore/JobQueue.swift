/// The jobs and their pending work: which jobs have tasks waiting for a lease, best first
/// (priority, then submission order) overall and per team, and delayed retries by when they
/// come due. Changes nothing outside itself; knows nothing of nodes or quotas.
public struct JobQueue: Sendable {
    /// Every job not yet forgotten, by id.
    public internal(set) var jobs: [JobID: ClusterState.JobRuntime] = [:]
    /// Jobs with tasks waiting for a lease, best first (priority, then submission order).
    public private(set) var pendingJobs: [JobID] = []
    /// The same jobs per team, each list best first: a lease looks at each team's head (the
    /// first job that fits the polling node), not at every pending job.
    public private(set) var pendingByTeam: [String: [JobID]] = [:]
    public internal(set) var lastJobID: Int64 = 0
    /// Jobs by the `Idempotency-Key` they were submitted with, per team (``submitKey(team:key:)``).
    public private(set) var jobsByIdempotencyKey: [String: JobID] = [:]
    /// When the last lease was handed out, to any job (not persisted).
    public internal(set) var lastLeaseAt = Timestamp(milliseconds: 0)
    /// Delayed retries by their `notBefore`. An entry whose task was leased, cancelled or
    /// delayed again since is stale; it is dropped when it reaches the top.
    private var retries = MinHeap<RetryDue>()

    struct RetryDue: Comparable, Sendable {
        var at: Timestamp
        var task: TaskRef
        static func < (a: Self, b: Self) -> Bool {
            (a.at.milliseconds, a.task.job.rawValue, a.task.index) < (b.at.milliseconds, b.task.job.rawValue, b.task.index)
        }
    }

    init() {}

    /// Adds a job (submitted or loaded) and queues it if it has pending work.
    mutating func add(_ job: ClusterState.JobRuntime) {
        lastJobID = max(lastJobID, job.record.id.rawValue)
        jobs[job.record.id] = job
        if let key = job.record.idempotencyKey { jobsByIdempotencyKey[Self.submitKey(team: job.record.spec.team, key: key)] = job.record.id }
        for index in job.retryQueue { if let at = job.tasks[index]?.notBefore { noteRetry(TaskRef(job: job.record.id, index: index), at: at) } }
        refreshPending(job.record.id)
    }

    /// Keys are the client's, so they are kept apart per team: one team's key never finds another's job.
    static func submitKey(team: String, key: String) -> String { team + "\u{0}" + key }

    /// The job submitted for `team` with `key`, if any.
    public func job(team: String, idempotencyKey key: String) -> ClusterState.JobRuntime? {
        jobsByIdempotencyKey[Self.submitKey(team: team, key: key)].flatMap { jobs[$0] }
    }

    /// Remembers that `task` waits for a retry from `at` on, for ``nextRetryDue()``.
    mutating func noteRetry(_ task: TaskRef, at: Timestamp) {
        retries.push(RetryDue(at: at, task: task))
    }

    /// The earliest instant a delayed retry becomes leasable, if any is waiting.
    public mutating func nextRetryDue() -> Timestamp? {
        while let top = retries.min {
            if let job = jobs[top.task.job], !job.record.state.isTerminal, let task = job.tasks[top.task.index],
               task.state == .queued, task.notBefore == top.at {
                return top.at
            }
            retries.popMin()
        }
        return nil
    }

    /// Puts `id` in or takes it out of the pending lists, whichever its work calls for.
    mutating func refreshPending(_ id: JobID) {
        if jobs[id]?.hasPendingWork == true { insertPending(id) } else { removePending(id) }
    }

    // MARK: - Order

    private func isBefore(_ a: JobID, _ b: JobID) -> Bool {
        let pa = jobs[a]!.record.spec.priority, pb = jobs[b]!.record.spec.priority
        return pa != pb ? pa > pb : a < b
    }

    mutating func insertPending(_ id: JobID) {
        let point = insertionPoint(of: id, in: pendingJobs)
        guard point == pendingJobs.count || pendingJobs[point] != id else { return }
        pendingJobs.insert(id, at: point)
        let team = jobs[id]!.record.spec.team
        var queue = pendingByTeam.removeValue(forKey: team) ?? []
        queue.insert(id, at: insertionPoint(of: id, in: queue))
        pendingByTeam[team] = queue
    }

    private func insertionPoint(of id: JobID, in queue: [JobID]) -> Int {
        var low = 0, high = queue.count
        while low < high {
            let mid = (low + high) / 2
            if isBefore(queue[mid], id) { low = mid + 1 } else { high = mid }
        }
        return low
    }

    mutating func removePending(_ id: JobID) {
        guard let team = jobs[id]?.record.spec.team else { return }
        let point = insertionPoint(of: id, in: pendingJobs)
        guard point < pendingJobs.count, pendingJobs[point] == id else { return }
        pendingJobs.remove(at: point)
        guard var queue = pendingByTeam.removeValue(forKey: team) else { return }
        let position = insertionPoint(of: id, in: queue)
        if position < queue.count, queue[position] == id { queue.remove(at: position) }
        if !queue.isEmpty { pendingByTeam[team] = queue }
    }
}
