/// The persisted state of a job: one row however many shards it has.
public struct JobRecord: Hashable, Sendable {
    public var id: JobID
    public var spec: JobSpec
    public var state: JobState
    public var submittedAt: Timestamp
    public var startedAt: Timestamp?
    public var endedAt: Timestamp?
    /// Shards `nextUnstarted..<taskCount` have never been leased and have no task row.
    public var nextUnstarted: Int
    /// Why the job reached its current state, when that is worth saying.
    public var reason: String?
    /// Who submitted it (token subject), for the audit trail.
    public var submittedBy: String
    /// The client's `Idempotency-Key` of the submission, if it sent one.
    public var idempotencyKey: String?

    public init(id: JobID, spec: JobSpec, state: JobState = .queued, submittedAt: Timestamp, startedAt: Timestamp? = nil,
                endedAt: Timestamp? = nil, nextUnstarted: Int = 0, reason: String? = nil, submittedBy: String, idempotencyKey: String? = nil) {
        self.idempotencyKey = idempotencyKey
        self.id = id
        self.spec = spec
        self.state = state
        self.submittedAt = submittedAt
        self.startedAt = startedAt
        self.endedAt = endedAt
        self.nextUnstarted = nextUnstarted
        self.reason = reason
        self.submittedBy = submittedBy
    }
}

/// How the task rows of a finished job ended, counted in the store (memory does not hold them:
/// see ``ClusterState/JobRuntime/holdsTaskRows(state:running:)``).
public struct FinishedTaskCounts: Hashable, Sendable {
    public var succeeded = 0, failed = 0, cancelled = 0
    public init(succeeded: Int = 0, failed: Int = 0, cancelled: Int = 0) {
        (self.succeeded, self.failed, self.cancelled) = (succeeded, failed, cancelled)
    }
    /// Rows counted.
    public var rows: Int { succeeded + failed + cancelled }
    /// Counts one more row in `state` (rows still queued or running are never counted here).
    public mutating func add(_ state: TaskState, count: Int = 1) {
        switch state {
        case .succeeded: succeeded += count
        case .failed: failed += count
        case .cancelled: cancelled += count
        case .queued, .running: break
        }
    }
}

/// The persisted state of a shard that has started at least once.
public struct TaskRecord: Hashable, Sendable {
    public var ref: TaskRef
    public var state: TaskState
    /// Attempts that ended failed or timed out.
    public var failures: Int
    /// Attempts that ended lost or preempted.
    public var lost: Int
    /// Attempts started so far (their numbers are 1...attempts).
    public var attempts: Int
    /// The attempt holding the lease, if running; the last attempt otherwise.
    public var currentAttempt: AttemptID?
    /// A queued retry is not leased before this instant.
    public var notBefore: Timestamp?

    public init(ref: TaskRef, state: TaskState, failures: Int = 0, lost: Int = 0, attempts: Int = 0,
                currentAttempt: AttemptID? = nil, notBefore: Timestamp? = nil) {
        self.ref = ref
        self.state = state
        self.failures = failures
        self.lost = lost
        self.attempts = attempts
        self.currentAttempt = currentAttempt
        self.notBefore = notBefore
    }
}

/// One lease of a task to a node, and how it ended.
public struct AttemptRecord: Hashable, Sendable {
    /// Also the fencing token.
    public var id: AttemptID
    public var task: TaskRef
    /// 1 for the first attempt of the task.
    public var number: Int
    public var node: NodeID
    public var state: AttemptState
    public var allocation: Resources
    public var gpuIndices: [Int]
    public var startedAt: Timestamp
    public var endedAt: Timestamp?
    public var exitCode: Int32?
    public var signal: Int32?
    public var peakRSSBytes: Int64?
    /// Cost booked to the ledger so far (all of it once ended), in millionths of the currency unit.
    public var costMicros: Int64?
    /// How far a running attempt's cost is booked; nil once it ended.
    public var meter: CostMeter?
    /// Latest progress line the task wrote (a JSON object), as forwarded by the agent.
    public var progress: String?
    public var reason: String?

    public init(id: AttemptID, task: TaskRef, number: Int, node: NodeID, state: AttemptState = .running,
                allocation: Resources, gpuIndices: [Int] = [], startedAt: Timestamp, endedAt: Timestamp? = nil,
                exitCode: Int32? = nil, signal: Int32? = nil, peakRSSBytes: Int64? = nil, costMicros: Int64? = nil,
                progress: String? = nil, reason: String? = nil) {
        self.id = id
        self.task = task
        self.number = number
        self.node = node
        self.state = state
        self.allocation = allocation
        self.gpuIndices = gpuIndices
        self.startedAt = startedAt
        self.endedAt = endedAt
        self.exitCode = exitCode
        self.signal = signal
        self.peakRSSBytes = peakRSSBytes
        self.costMicros = costMicros
        self.progress = progress
        self.reason = reason
    }
}

/// Hourly prices of a node's resources, in millionths of the currency unit.
public struct Prices: Hashable, Sendable, Codable {
    public var cpuHourMicros: Int64
    public var memoryGiBHourMicros: Int64
    public var gpuHourMicros: Int64

    public init(cpuHourMicros: Int64 = 0, memoryGiBHourMicros: Int64 = 0, gpuHourMicros: Int64 = 0) {
        self.cpuHourMicros = cpuHourMicros
        self.memoryGiBHourMicros = memoryGiBHourMicros
        self.gpuHourMicros = gpuHourMicros
    }
}

/// A registered agent machine.
public struct NodeRecord: Hashable, Sendable {
    public var id: NodeID
    public var name: String
    public var capacity: Resources
    /// GPU indices the node offers (`0..<capacity.gpus` unless the agent says otherwise).
    public var gpuIndices: [Int]
    public var labels: [String: String]
    /// The rates in force: a rate-card entry matching the node's labels, else what the agent declared.
    public var prices: Prices
    /// What the agent declared (`--price-*` flags), kept to fall back to when the rate card changes.
    public var declaredPrices: Prices?
    public var state: NodeState
    public var registeredAt: Timestamp
    /// SHA-256 of the agent's bearer token, hex.
    public var tokenHash: String
    /// When a draining node's remaining attempts are requeued.
    public var drainDeadline: Timestamp?
    /// Whether its tasks run as uids of their own (an agent too old to say: `shared`).
    public var taskIsolation: TaskIsolation = .shared

    public init(id: NodeID, name: String, capacity: Resources, gpuIndices: [Int], labels: [String: String], prices: Prices,
                state: NodeState = .ready, registeredAt: Timestamp, tokenHash: String) {
        self.id = id
        self.name = name
        self.capacity = capacity
        self.gpuIndices = gpuIndices
        self.labels = labels
        self.prices = prices
        self.state = state
        self.registeredAt = registeredAt
        self.tokenHash = tokenHash
    }
}

/// One line of the audit trail: a state change of a job, task, attempt or node.
public struct Event: Hashable, Sendable {
    /// `job/12`, `task/12/3`, `attempt/77`, `node/n2`.
    public var subject: String
    /// The job the subject belongs to, so a job's history is one query.
    public var job: JobID?
    public var at: Timestamp
    public var from: String?
    public var to: String
    public var reason: String
    /// Who caused it: `admin`, `node/n2`, `coordinator`, a token's subject.
    public var actor: String

    public init(subject: String, job: JobID?, at: Timestamp, from: String?, to: String, reason: String, actor: String) {
        self.subject = subject
        self.job = job
        self.at = at
        self.from = from
        self.to = to
        self.reason = reason
        self.actor = actor
    }
}

/// A change to persist. The state machine returns these; the store applies a batch of
/// them in one transaction, in order. `put` means insert or replace the whole row.
public enum Mutation: Sendable {
    case putJob(JobRecord)
    case putTask(TaskRecord)
    case putAttempt(AttemptRecord)
    case putNode(NodeRecord)
    case appendEvent(Event)
    case appendLog(attempt: AttemptID, offset: Int64, data: [UInt8])
    case putToken(TokenRecord)
    case putQuota(team: String, Quota)
    case appendLedger(LedgerEntry)
    case appendAlert(BudgetAlert)
    /// Registers or replaces a webhook.
    case putWebhook(WebhookRecord)
    /// Removes a webhook; its deliveries stay in the log.
    case removeWebhook(id: String)
    /// Queues or updates a row of the webhook outbox.
    case putDelivery(DeliveryRecord)
    /// Records one try of a delivery.
    case appendDeliveryTry(DeliveryTry)
}
