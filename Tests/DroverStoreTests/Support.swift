import DroverCore
import DroverStore
import DroverStoreSQLite
import Foundation
import Testing

/// The stores every conformance test runs against.
enum StoreKind: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case memory, sqlite
    var testDescription: String { rawValue }

    func make() throws -> any Store {
        switch self {
        case .memory: InMemoryStore()
        case .sqlite: try ScratchSQLiteStore()
        }
    }
}

/// An SQLite store in its own temporary directory, removed when the store goes away.
final class ScratchSQLiteStore: Store {
    let directory: URL
    let path: String
    let inner: SQLiteStore

    init(synchronous: SQLiteStore.Synchronous = .full) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("drover-store-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        path = directory.appendingPathComponent("drover.db").path
        inner = try SQLiteStore(path: path, synchronous: synchronous)
    }

    deinit { try? FileManager.default.removeItem(at: directory) }

    func apply(_ mutations: [Mutation]) async throws { try await inner.apply(mutations) }
    func load() async throws -> StoredState { try await inner.load() }
    func rewriteSpecs(_ specs: [JobID: JobSpec]) async throws { try await inner.rewriteSpecs(specs) }
    func jobIDs(team: String?, state: JobState?, before: JobID?, limit: Int) async throws -> [JobID] {
        try await inner.jobIDs(team: team, state: state, before: before, limit: limit)
    }
    func attempts(of job: JobID) async throws -> [AttemptRecord] { try await inner.attempts(of: job) }
    func attempts(of task: TaskRef) async throws -> [AttemptRecord] { try await inner.attempts(of: task) }
    func attempt(_ id: AttemptID) async throws -> AttemptRecord? { try await inner.attempt(id) }
    func events(of job: JobID, limit: Int) async throws -> (events: [Event], total: Int) { try await inner.events(of: job, limit: limit) }
    func nodeEvents(limit: Int) async throws -> [Event] { try await inner.nodeEvents(limit: limit) }
    func log(of attempt: AttemptID, from offset: Int64, maxBytes: Int) async throws -> [UInt8] {
        try await inner.log(of: attempt, from: offset, maxBytes: maxBytes)
    }
    func costReport(by grouping: CostGrouping, since: Timestamp, until: Timestamp, team: String?) async throws -> [CostLine] {
        try await inner.costReport(by: grouping, since: since, until: until, team: team)
    }
    func ledger(attempt: AttemptID?, team: String?, after: Int64, limit: Int) async throws -> [LedgerEntry] {
        try await inner.ledger(attempt: attempt, team: team, after: after, limit: limit)
    }
    func ledgerEntry(_ id: Int64) async throws -> LedgerEntry? { try await inner.ledgerEntry(id) }
    func alerts(team: String?, limit: Int) async throws -> [BudgetAlert] { try await inner.alerts(team: team, limit: limit) }
    func eventLog(after: Int64?, before: Int64?, job: JobID?, team: String?, limit: Int) async throws -> [StoredEvent] { try await inner.eventLog(after: after, before: before, job: job, team: team, limit: limit) }
    func deliveries(webhook: String?, limit: Int) async throws -> [DeliveryRecord] { try await inner.deliveries(webhook: webhook, limit: limit) }
    func delivery(_ id: String) async throws -> DeliveryRecord? { try await inner.delivery(id) }
    func dueDeliveries(by now: Timestamp, limit: Int) async throws -> [DeliveryRecord] { try await inner.dueDeliveries(by: now, limit: limit) }
    func nextDeliveryDue() async throws -> Timestamp? { try await inner.nextDeliveryDue() }
    func deliveryTries(of delivery: String) async throws -> [DeliveryTry] { try await inner.deliveryTries(of: delivery) }
}

let t0 = Timestamp(milliseconds: 1_700_000_000_000)
func at(_ seconds: Int64) -> Timestamp { t0.adding(milliseconds: seconds * 1000) }

func sampleSpec(tasks: Int = 4) -> JobSpec {
    JobSpec(name: "forecast", team: "ml", kind: tasks > 1 ? .batch : .training, taskCount: tasks, command: ["python3", "score.py"],
            environment: ["HORIZON": "28"], resources: Resources(millicores: 1500, memoryBytes: 2 << 30, gpus: 1), priority: 3,
            constraints: [Constraint(key: "zone", op: .notEqual, value: "us")],
            retry: RetryPolicy(maxAttempts: 4, maxLostAttempts: 2, backoff: .init(initialMilliseconds: 250, multiplier: 1.5, maxMilliseconds: 9000, jitter: 0.3),
                               nonRetryableExitCodes: [2, 3]),
            timeoutMilliseconds: 60_000, maxFailedTasks: 1)
}

func sampleJob(_ id: Int64, state: JobState = .queued, tasks: Int = 4) -> JobRecord {
    JobRecord(id: JobID(id), spec: sampleSpec(tasks: tasks), state: state, submittedAt: at(id), nextUnstarted: 0, submittedBy: "alice")
}

func sampleNode(_ id: Int64, state: NodeState = .ready) -> NodeRecord {
    NodeRecord(id: NodeID(id), name: "node-\(id)", capacity: Resources(millicores: 8000, memoryBytes: 32 << 30, gpus: 2), gpuIndices: [1, 0],
               labels: ["zone": "eu", "gpu.model": "NVIDIA H200"], prices: Prices(cpuHourMicros: 48_000, memoryGiBHourMicros: 5_000, gpuHourMicros: 2_000_000),
               state: state, registeredAt: t0, tokenHash: "hash-\(id)")
}

func sampleAttempt(_ id: Int64, job: Int64 = 1, index: Int = 0, number: Int = 1, node: Int64 = 1, state: AttemptState = .running,
                   cost: Int64? = nil) -> AttemptRecord {
    AttemptRecord(id: AttemptID(id), task: TaskRef(job: JobID(job), index: index), number: number, node: NodeID(node), state: state,
                  allocation: Resources(millicores: 1500, memoryBytes: 2 << 30, gpus: 1), gpuIndices: [1], startedAt: at(10),
                  endedAt: state == .running ? nil : at(20), exitCode: state == .running ? nil : (state == .succeeded ? 0 : 1),
                  signal: state == .cancelled ? 15 : nil, peakRSSBytes: state == .running ? nil : 123_456_789, costMicros: cost,
                  progress: #"{"progress":0.5}"#, reason: state == .running ? nil : "reported")
}

func sampleEvent(_ subject: String, job: Int64?, at second: Int64, to: String = "running") -> Event {
    Event(subject: subject, job: job.map(JobID.init), at: at(second), from: "queued", to: to, reason: "because \(second)", actor: "coordinator")
}

extension Mutation {
    var isLog: Bool { if case .appendLog = self { true } else { false } }
}
