extension ClusterState {
    /// A job and the rows of its started shards.
    public struct JobRuntime: Sendable {
        public internal(set) var record: JobRecord
        public internal(set) var tasks: [Int: TaskRecord] = [:]
        /// Shards with a task row waiting for another attempt.
        public internal(set) var retryQueue: [Int] = []
        public internal(set) var running = 0
        public internal(set) var succeeded = 0
        public internal(set) var failed = 0
        public internal(set) var cancelled = 0
        /// Cost booked to the ledger for the job's attempts so far, in micro-units.
        public internal(set) var costMicros: Int64 = 0
        /// The part of `costMicros` spent on attempts that ended other than succeeded.
        public internal(set) var wastedMicros: Int64 = 0
        /// The estimate reserved against its team's budget at admission (re-estimated after a
        /// restart); nil when nothing is reserved: no budget, or unbounded under a hard stop.
        public internal(set) var estimateMicros: Int64?
        /// What it reserves now: `estimateMicros` less `costMicros` while it can still spend.
        public internal(set) var reservedMicros: Int64 = 0
        /// Since when the job has waited without a lease (its submission or its last lease; after
        /// a restart, the restart). Not persisted.
        public internal(set) var waitingSince = Timestamp(milliseconds: 0)
        /// Circuit-breaker memory (not persisted: a restart gives the job a fresh streak).
        public internal(set) var anySucceeded = false
        public internal(set) var fastFailureStreak = 0
        public internal(set) var streakExitCode: Int32?

        mutating func noteForCircuitBreaker(outcome: AttemptState, exitCode: Int32?, milliseconds: Int64) {
            switch outcome {
            case .succeeded:
                anySucceeded = true
                fastFailureStreak = 0
            case .failed, .timedOut:
                let fast = milliseconds < (record.spec.circuitBreaker?.fastMilliseconds ?? 0)
                if fast && fastFailureStreak > 0 && exitCode == streakExitCode {
                    fastFailureStreak += 1
                } else {
                    fastFailureStreak = fast ? 1 : 0
                }
                streakExitCode = exitCode
            default:
                break
            }
        }

        /// The reason of the event of a job's first lease: the end of its admission wait.
        public static let firstLeaseReason = "first task leased"

        /// Whether memory holds the job's task rows: while it is live, and until the last attempt
        /// of a finished job has ended. After that its rows are only in the store.
        public static func holdsTaskRows(state: JobState, running: Int) -> Bool { !state.isTerminal || running > 0 }

        /// Lets go of the task rows of a finished job none of whose attempts runs any more.
        mutating func releaseTaskRowsIfFinished() {
            guard !Self.holdsTaskRows(state: record.state, running: running) else { return }
            tasks = [:]
            retryQueue = []
        }

        /// The state of a job that has not ended, from its counts: `running` while at least one
        /// of its tasks runs, else `queued` — never leased yet, or requeued by a drain, a lost
        /// node or a preemption. The one definition; an ended job keeps the state it ended in.
        public static func liveState(running: Int) -> JobState { running > 0 ? .running : .queued }

        /// Shards neither running nor finished.
        public var queued: Int { record.spec.taskCount - running - succeeded - failed - cancelled }
        /// Whether some shard has never started.
        public var hasUnstarted: Bool { record.nextUnstarted < record.spec.taskCount }
        /// Whether the job could still lease something (now or after a retry delay).
        public var hasPendingWork: Bool { !record.state.isTerminal && (hasUnstarted || !retryQueue.isEmpty) }

        /// Whether a task of the job could be leased now.
        func hasDueTask(now: Timestamp) -> Bool {
            hasUnstarted || retryQueue.contains { (tasks[$0]?.notBefore ?? now) <= now }
        }

        /// Takes the shard to lease next: a due retry first, else the next unstarted shard.
        mutating func takeRunnableIndex(now: Timestamp) -> Int? {
            if let position = retryQueue.firstIndex(where: { (tasks[$0]?.notBefore ?? now) <= now }) {
                return retryQueue.remove(at: position)
            }
            if hasUnstarted {
                defer { record.nextUnstarted += 1 }
                return record.nextUnstarted
            }
            return nil
        }
    }
}
