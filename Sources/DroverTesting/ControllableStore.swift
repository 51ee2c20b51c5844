import DroverCore
import DroverStore
import Synchronization

/// An in-memory store a test can break: refuse writes (a full disk, a database failing over)
/// refuse the reads of history (a database that answers nothing), or hold writes at a gate to
/// order requests around a commit.
public final class ControllableStore: Store {
    private struct Control {
        var refuseWrites = false
        var refuseReads = false
        var gateClosed = false
        var held: [CheckedContinuation<Void, Never>] = []
        var refused = 0
    }

    /// What the store holds.
    public let inner = InMemoryStore()
    private let control = Mutex(Control())

    public init() {}

    /// Refuse (or take again) every write.
    public func refuseWrites(_ refuse: Bool) { control.withLock { $0.refuseWrites = refuse } }
    /// Refuse (or answer again) every read but `load()`.
    public func refuseReads(_ refuse: Bool) { control.withLock { $0.refuseReads = refuse } }
    private func read<T>(_ body: () async throws -> T) async throws -> T {
        guard !control.withLock({ $0.refuseReads }) else { throw ControllableStoreError("read refused (database unreachable)") }
        return try await body()
    }
    /// Holds every write from now on until ``openGate()``.
    public func closeGate() { control.withLock { $0.gateClosed = true } }
    /// Lets held writes and every later one through.
    public func openGate() {
        let held = control.withLock { control in
            control.gateClosed = false
            defer { control.held = [] }
            return control.held
        }
        for write in held { write.resume() }
    }
    /// Writes waiting at the closed gate.
    public var heldWrites: Int { control.withLock { $0.held.count } }
    /// Writes that were refused.
    public var refusedWrites: Int { control.withLock { $0.refused } }

    public func apply(_ mutations: [Mutation]) async throws {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let pass = control.withLock { control in
                guard control.gateClosed else { return true }
                control.held.append(continuation)
                return false
            }
            if pass { continuation.resume() }
        }
        let refused = control.withLock { control in
            if control.refuseWrites { control.refused += 1 }
            return control.refuseWrites
        }
        guard !refused else { throw ControllableStoreError("write refused (disk full)") }
        try await inner.apply(mutations)
    }

    public func load() async throws -> StoredState { try await inner.load() }
    public func rewriteSpecs(_ specs: [JobID: JobSpec]) async throws { try await inner.rewriteSpecs(specs) }

    public func attempts(of job: JobID) async throws -> [AttemptRecord] { try await read { try await inner.attempts(of: job) } }
    public func attempts(of task: TaskRef) async throws -> [AttemptRecord] { try await read { try await inner.attempts(of: task) } }
    public func attempt(_ id: AttemptID) async throws -> AttemptRecord? { try await read { try await inner.attempt(id) } }
    public func events(of job: JobID, limit: Int) async throws -> (events: [Event], total: Int) { try await read { try await inner.events(of: job, limit: limit) } }
    public func nodeEvents(limit: Int) async throws -> [Event] { try await read { try await inner.nodeEvents(limit: limit) } }
    public func log(of attempt: AttemptID, from offset: Int64, maxBytes: Int) async throws -> [UInt8] {
        try await read { try await inner.log(of: attempt, from: offset, maxBytes: maxBytes) }
    }
    public func costReport(by grouping: CostGrouping, since: Timestamp, until: Timestamp, team: String?) async throws -> [CostLine] {
        try await read { try await inner.costReport(by: grouping, since: since, until: until, team: team) }
    }
    public func ledger(attempt: AttemptID?, team: String?, after: Int64, limit: Int) async throws -> [LedgerEntry] {
        try await read { try await inner.ledger(attempt: attempt, team: team, after: after, limit: limit) }
    }
    public func ledgerEntry(_ id: Int64) async throws -> LedgerEntry? { try await read { try await inner.ledgerEntry(id) } }
    public func jobIDs(team: String?, state: JobState?, before: JobID?, limit: Int) async throws -> [JobID] {
        try await read { try await inner.jobIDs(team: team, state: state, before: before, limit: limit) }
    }
    public func alerts(team: String?, limit: Int) async throws -> [BudgetAlert] { try await read { try await inner.alerts(team: team, limit: limit) } }
    public func eventLog(after: Int64?, before: Int64?, job: JobID?, team: String?, limit: Int) async throws -> [StoredEvent] { try await read { try await inner.eventLog(after: after, before: before, job: job, team: team, limit: limit) } }
    public func deliveries(webhook: String?, limit: Int) async throws -> [DeliveryRecord] { try await read { try await inner.deliveries(webhook: webhook, limit: limit) } }
    public func delivery(_ id: String) async throws -> DeliveryRecord? { try await read { try await inner.delivery(id) } }
    public func dueDeliveries(by now: Timestamp, limit: Int) async throws -> [DeliveryRecord] { try await read { try await inner.dueDeliveries(by: now, limit: limit) } }
    public func nextDeliveryDue() async throws -> Timestamp? { try await read { try await inner.nextDeliveryDue() } }
    public func deliveryTries(of delivery: String) async throws -> [DeliveryTry] { try await read { try await inner.deliveryTries(of: delivery) } }
}

/// What a ``ControllableStore`` throws when told to fail.
public struct ControllableStoreError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
