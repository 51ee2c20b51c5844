import DroverCore
import Synchronization

/// A store that keeps everything in memory: for tests and `drover demo --ephemeral`.
public final class InMemoryStore: Store {
    private struct Contents {
        var jobs: [JobID: JobRecord] = [:]
        var tasks: [TaskRef: TaskRecord] = [:]
        var attempts: [AttemptID: AttemptRecord] = [:]
        var nodes: [NodeID: NodeRecord] = [:]
        var events: [Event] = []
        var logs: [AttemptID: [UInt8]] = [:]
        var tokens: [String: TokenRecord] = [:]
        var quotas: [String: Quota] = [:]
        var ledger: [LedgerEntry] = []
        var alerts: [BudgetAlert] = []
        var webhooks: [String: WebhookRecord] = [:]
        /// Deliveries in the order they were queued.
        var deliveries: [DeliveryRecord] = []
        var deliveryIndex: [String: Int] = [:]
        var tries: [String: [DeliveryTry]] = [:]
    }

    private let contents = Mutex(Contents())

    public init() {}

    public func apply(_ mutations: [Mutation]) async throws {
        contents.withLock { c in
            for mutation in mutations {
                switch mutation {
                case .putJob(let job): c.jobs[job.id] = job
                case .putTask(let task): c.tasks[task.ref] = task
                case .putAttempt(let attempt): c.attempts[attempt.id] = attempt
                case .putNode(let node): c.nodes[node.id] = node
                case .appendEvent(let event): c.events.append(event)
                case .putToken(let token): c.tokens[token.id] = token
                case .putQuota(let team, let quota): c.quotas[team] = quota
                case .appendLedger(let entry): c.ledger.append(entry)
                case .appendAlert(let alert): c.alerts.append(alert)
                case .putWebhook(let hook): c.webhooks[hook.id] = hook
                case .removeWebhook(let id): c.webhooks[id] = nil
                case .putDelivery(let delivery):
                    if let index = c.deliveryIndex[delivery.id] {
                        c.deliveries[index] = delivery
                    } else {
                        c.deliveryIndex[delivery.id] = c.deliveries.count
                        c.deliveries.append(delivery)
                    }
                case .appendDeliveryTry(let attempt): c.tries[attempt.delivery, default: []].append(attempt)
                case .appendLog(let attempt, let offset, let data):
                    var log = c.logs[attempt] ?? []
                    // Chunks carry their offset; a resent chunk overwrites what it covers.
                    if Int(offset) <= log.count {
                        log.replaceSubrange(Int(offset)..<min(log.count, Int(offset) + data.count), with: data)
                        c.logs[attempt] = log
                    }
                }
            }
        }
    }

    public func rewriteSpecs(_ specs: [JobID: JobSpec]) async throws {
        contents.withLock { c in
            for (id, spec) in specs { c.jobs[id]?.spec = spec }
        }
    }

    public func load() async throws -> StoredState {
        contents.withLock { c in
            var state = StoredState(
                jobs: c.jobs.values.sorted { $0.id < $1.id },
                tasks: [],
                activeAttempts: c.attempts.values.filter { $0.state == .running }.sorted { $0.id < $1.id },
                nodes: c.nodes.values.sorted { $0.id < $1.id },
                jobCosts: c.attempts.values.reduce(into: [:]) { $0[$1.task.job, default: 0] += $1.costMicros ?? 0 },
                lastAttemptID: c.attempts.keys.map(\.rawValue).max() ?? 0)
            (state.tasks, state.finishedTaskCounts) = StoredState.splitTaskRows(Array(c.tasks.values), of: state.jobs)
            state.tokens = c.tokens.values.sorted { $0.id < $1.id }
            state.quotas = c.quotas
            state.webhooks = c.webhooks.values.sorted { $0.id < $1.id }
            let today = (c.ledger.map(\.to).max() ?? Timestamp(milliseconds: 0)).day
            var spend: [String: [Int64: Int64]] = [:]
            for entry in c.ledger where entry.to.day > today - CostHistory.daysKept {
                spend[entry.team, default: [:]][entry.to.day, default: 0] += entry.amountMicros
            }
            state.costs = CostHistory(
                recentSpend: spend.flatMap { team, days in days.map { (team: team, day: $0.key, micros: $0.value) } },
                alerts: c.alerts, lastLedgerID: c.ledger.map(\.id).max() ?? 0,
                reversedLedgerEntries: Set(c.ledger.compactMap(\.reverses)),
                jobWaste: c.attempts.values.filter { $0.state != .succeeded && $0.state != .running }
                    .reduce(into: [:]) { $0[$1.task.job, default: 0] += $1.costMicros ?? 0 })
            return state
        }
    }

    public func attempts(of job: JobID) async throws -> [AttemptRecord] {
        contents.withLock { $0.attempts.values.filter { $0.task.job == job }.sorted { $0.id < $1.id } }
    }

    public func attempts(of task: TaskRef) async throws -> [AttemptRecord] {
        contents.withLock { $0.attempts.values.filter { $0.task == task }.sorted { $0.id < $1.id } }
    }

    public func attempt(_ id: AttemptID) async throws -> AttemptRecord? {
        contents.withLock { $0.attempts[id] }
    }

    public func jobIDs(team: String?, state: JobState?, before: JobID?, limit: Int) async throws -> [JobID] {
        contents.withLock { c in
            Array(c.jobs.values.filter { job in
                (team == nil || job.spec.team == team) && (state == nil || job.state == state) && (before == nil || job.id < before!)
            }.map(\.id).sorted(by: >).prefix(limit))
        }
    }

    public func events(of job: JobID, limit: Int) async throws -> (events: [Event], total: Int) {
        contents.withLock { c in
            let all = c.events.filter { $0.job == job }
            return (Array(all.suffix(limit)), all.count)
        }
    }

    public func nodeEvents(limit: Int) async throws -> [Event] {
        contents.withLock { Array($0.events.filter { $0.subject.hasPrefix("node/") }.suffix(limit)) }
    }

    public func log(of attempt: AttemptID, from offset: Int64, maxBytes: Int) async throws -> [UInt8] {
        contents.withLock { c in
            let log = c.logs[attempt] ?? []
            guard offset < log.count else { return [] }
            return Array(log[Int(offset)..<min(log.count, Int(offset) + maxBytes)])
        }
    }

    public func costReport(by grouping: CostGrouping, since: Timestamp, until: Timestamp, team: String?) async throws -> [CostLine] {
        contents.withLock { c in
            var lines: [String: CostLine] = [:]
            var attempts: [String: Set<AttemptID>] = [:]
            for entry in c.ledger where entry.to >= since && entry.to < until && (team == nil || entry.team == team) {
                let key = switch grouping {
                case .team: entry.team
                case .job: entry.job.description
                case .node: entry.node.description
                case .day: CivilDate(day: entry.to.day).description
                }
                var line = lines[key] ?? CostLine(key: key)
                switch c.attempts[entry.attempt]?.state {
                case .succeeded: line.succeededMicros += entry.amountMicros
                case .running, nil: line.runningMicros += entry.amountMicros
                default: line.wastedMicros += entry.amountMicros
                }
                attempts[key, default: []].insert(entry.attempt)
                line.attempts = attempts[key]!.count
                lines[key] = line
            }
            return lines.values.sorted { $0.key < $1.key }
        }
    }

    public func ledger(attempt: AttemptID?, team: String?, after: Int64, limit: Int) async throws -> [LedgerEntry] {
        contents.withLock { c in
            Array(c.ledger.filter { $0.id > after && (attempt == nil || $0.attempt == attempt) && (team == nil || $0.team == team) }.prefix(limit))
        }
    }

    public func ledgerEntry(_ id: Int64) async throws -> LedgerEntry? {
        contents.withLock { $0.ledger.first { $0.id == id } }
    }

    public func alerts(team: String?, limit: Int) async throws -> [BudgetAlert] {
        contents.withLock { c in Array(c.alerts.filter { team == nil || $0.team == team }.suffix(limit)) }
    }

    public func eventLog(after: Int64?, before: Int64?, job: JobID?, team: String?, limit: Int) async throws -> [StoredEvent] {
        contents.withLock { c in
            let teams = c.jobs.mapValues(\.spec.team)
            let matching = c.events.enumerated().map { StoredEvent(id: Int64($0.offset + 1), event: $0.element) }.filter { stored in
                (job == nil || stored.event.job == job) && (team == nil || stored.event.job.flatMap { teams[$0] } == team)
            }
            if let after { return Array(matching.filter { $0.id > after }.prefix(limit)) }
            return Array(matching.filter { before == nil || $0.id < before! }.suffix(limit))
        }
    }

    public func deliveries(webhook: String?, limit: Int) async throws -> [DeliveryRecord] {
        contents.withLock { c in Array(c.deliveries.reversed().filter { webhook == nil || $0.webhook == webhook }.prefix(limit)) }
    }

    public func delivery(_ id: String) async throws -> DeliveryRecord? {
        contents.withLock { c in c.deliveryIndex[id].map { c.deliveries[$0] } }
    }

    public func dueDeliveries(by now: Timestamp, limit: Int) async throws -> [DeliveryRecord] {
        contents.withLock { c in
            Array(c.deliveries.filter { $0.state == .pending && ($0.nextTry ?? now) <= now }.sorted { ($0.nextTry ?? now) < ($1.nextTry ?? now) }.prefix(limit))
        }
    }

    public func nextDeliveryDue() async throws -> Timestamp? {
        contents.withLock { c in c.deliveries.filter { $0.state == .pending }.compactMap(\.nextTry).min() }
    }

    public func deliveryTries(of delivery: String) async throws -> [DeliveryTry] {
        contents.withLock { $0.tries[delivery] ?? [] }
    }
}
