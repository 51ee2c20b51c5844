import DroverAPI
import DroverCore
import DroverStore
import Foundation

extension Cluster {
    // MARK: - Booking and rates

    /// Books the cost of running attempts whose last booking is an interval old. Run by the lease reaper.
    func bookRunningCosts() async throws {
        let interval = configuration.costBookingInterval.milliseconds
        // A hard stop that requeued attempts freed capacity for other teams: its effects wake every poll.
        try await mutate { state, now throws(ClusterError) in
            var random = SystemRandomNumberGenerator()
            return state.bookRunningCosts(now: now, intervalMilliseconds: interval, random: &random)
        }
    }

    /// Loads the rate card file and applies it to every node from now on.
    func reloadRates() async throws {
        guard let path = configuration.ratesFile else { return }
        let card = try Self.loadRateCard(path: path)
        let changed = try await mutate { state, now throws(ClusterError) in
            let transition = state.applyRateCard(card, by: "coordinator (rates file \(path))", now: now)
            return transition.map { _ in transition.mutations.count }
        }
        logger.notice("rate card loaded", metadata: ["rates.file": "\(path)", "rates.entries": "\(card.entries.count)", "mutations": "\(changed)"])
    }

    /// Reads and parses a rate card file; errors name the file and the field.
    public static func loadRateCard(path: String) throws -> RateCard {
        guard let data = FileManager.default.contents(atPath: path) else { throw ConfigurationError("cannot read the rates file \(path)") }
        do {
            return try RateCardParser.parse(yaml: String(decoding: data, as: UTF8.self))
        } catch {
            throw ConfigurationError("rates file \(path): \(error)")
        }
    }

    // MARK: - Estimates, corrections, reports

    /// Appends a row reversing ledger row `id`.
    func reverseLedgerEntry(_ id: Int64, reason: String, by actor: String) async throws -> LedgerEntry {
        guard let entry = try await queries.fromStore({ try await $0.ledgerEntry(id) }) else { throw APIError.notFound("ledger entry \(id) does not exist") }
        var tries = 0
        while true {
            // The attempt's stored row, unless it still runs (then memory has it). It can end
            // between this read and the change below; the core refuses that case and we read again.
            let stored = try await queries.fromStore { try await $0.attempt(entry.attempt) }
            do {
                return try await mutate { state, now throws(ClusterError) in
                    try state.reverse(entry, finishedAttempt: stored?.state == .running ? nil : stored, reason: reason, by: actor, now: now)
                }
            } catch ClusterError.changedMeanwhile where tries < 3 {
                tries += 1
                // Let the end of the attempt reach the store before reading it again.
                try await journal.waitDurable(state.withLock { _ in journal.lastTicket })
            }
        }
    }

    static func view(of status: BudgetStatus, currency: String) -> BudgetView {
        var view = BudgetView(amount: money(status.budget.amountMicros), period: status.budget.period, softPercent: status.budget.softPercent,
                              hardStop: status.budget.hardStop, spent: money(status.spentMicros), remaining: money(status.remainingMicros),
                              periodStart: status.periodStart.description, resets: status.resets.description, currency: currency)
        view.reserved = money(status.reservedMicros)
        view.available = money(status.availableMicros)
        return view
    }

    static func view(of alert: BudgetAlert) -> AlertView {
        AlertView(team: alert.team, level: alert.level, at: WireTime.format(milliseconds: alert.at.milliseconds),
                  periodStart: CivilDate(day: alert.periodStartDay).description, spent: money(alert.spentMicros), budget: money(alert.budgetMicros),
                  message: alert.message)
    }

    static func view(of entry: LedgerEntry) -> LedgerEntryView {
        let perUnit: Decimal = switch entry.resource {
        case .cpu: 1000
        case .memory: Decimal(1 << 30)
        case .gpu: 1
        }
        return LedgerEntryView(
            id: String(entry.id), attemptId: entry.attempt.description, team: entry.team, jobId: entry.job.description, nodeId: entry.node.description,
            resource: entry.resource, quantity: Decimal(entry.quantity) / perUnit, rate: money(entry.rateMicros), amount: money(entry.amountMicros),
            from: WireTime.format(milliseconds: entry.from.milliseconds), to: WireTime.format(milliseconds: entry.to.milliseconds),
            reverses: entry.reverses.map(String.init), note: entry.note)
    }

    static func view(of prices: Prices) -> PriceRates {
        PriceRates(cpuHour: money(prices.cpuHourMicros), memoryGiBHour: money(prices.memoryGiBHourMicros), gpuHour: money(prices.gpuHourMicros))
    }
}
