/// What a team may spend per calendar period (UTC).
public struct Budget: Hashable, Sendable, Codable {
    public var amountMicros: Int64
    public var period: BudgetPeriod
    /// Percent of the budget at which an alert is raised (the soft threshold).
    public var softPercent: Int
    /// At 100 %, also stop the team's running attempts (they are requeued, not failed).
    /// Without it running attempts finish and only new leases stop.
    public var hardStop: Bool

    public init(amountMicros: Int64, period: BudgetPeriod, softPercent: Int = 80, hardStop: Bool = false) {
        self.amountMicros = amountMicros
        self.period = period
        self.softPercent = softPercent
        self.hardStop = hardStop
    }

    /// The soft threshold in micro-units.
    public var softMicros: Int64 { Int64(Int128(amountMicros) * Int128(softPercent) / 100) }
}

/// A budget's calendar period, in UTC: days start at midnight, weeks on Monday, months on the 1st.
public enum BudgetPeriod: String, Hashable, Sendable, CaseIterable {
    case day, week, month

    /// The first day (days since 1970-01-01) of the period containing `day`.
    public func firstDay(containing day: Int64) -> Int64 {
        switch self {
        case .day:
            return day
        case .week:
            // 1970-01-01 was a Thursday; Monday is weekday 0.
            let weekday = ((day + 3) % 7 + 7) % 7
            return day - weekday
        case .month:
            let date = CivilDate(day: day)
            return CivilDate(year: date.year, month: date.month, day: 1).daysSinceEpoch
        }
    }

    /// The first day of the period after the one containing `day`.
    public func nextFirstDay(after day: Int64) -> Int64 {
        switch self {
        case .day: return day + 1
        case .week: return firstDay(containing: day) + 7
        case .month:
            let date = CivilDate(day: day)
            return date.month == 12 ? CivilDate(year: date.year + 1, month: 1, day: 1).daysSinceEpoch
                : CivilDate(year: date.year, month: date.month + 1, day: 1).daysSinceEpoch
        }
    }
}

/// A proleptic Gregorian calendar date (UTC), converted with Howard Hinnant's
/// days-from-civil algorithm, so the core needs no Foundation calendar.
public struct CivilDate: Hashable, Sendable, CustomStringConvertible {
    public var year: Int64
    public var month: Int64
    public var day: Int64

    public init(year: Int64, month: Int64, day: Int64) {
        (self.year, self.month, self.day) = (year, month, day)
    }

    /// The date `day` days after 1970-01-01.
    public init(day: Int64) {
        let z = day + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        self.init(year: yoe + era * 400 + (m <= 2 ? 1 : 0), month: m, day: d)
    }

    /// Days since 1970-01-01.
    public var daysSinceEpoch: Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = month > 2 ? month - 3 : month + 9
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// `2026-11-26`.
    public var description: String {
        func pad(_ value: Int64, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))"
    }

    /// Parses `YYYY-MM-DD`.
    public init?(parsing text: String) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
              let y = Int64(parts[0]), let m = Int64(parts[1]), let d = Int64(parts[2]), (1...12).contains(m), d >= 1 else { return nil }
        self.init(year: y, month: m, day: d)
        guard CivilDate(day: daysSinceEpoch) == self else { return nil } // 2026-02-30 and the like
    }
}

extension Timestamp {
    /// Days since 1970-01-01 (UTC) of this instant.
    public var day: Int64 {
        milliseconds >= 0 ? milliseconds / 86_400_000 : (milliseconds - 86_399_999) / 86_400_000
    }

    /// Midnight UTC at the start of `day` (days since 1970-01-01).
    public static func startOf(day: Int64) -> Timestamp { Timestamp(milliseconds: day * 86_400_000) }
}

/// A budget alert raised for a team: the soft threshold or the whole budget was reached.
public struct BudgetAlert: Hashable, Sendable {
    public enum Level: String, Hashable, Sendable, CaseIterable { case soft, exhausted }
    public var team: String
    public var level: Level
    public var at: Timestamp
    /// First day of the budget period the alert is about.
    public var periodStartDay: Int64
    public var spentMicros: Int64
    public var budgetMicros: Int64
    public var message: String

    public init(team: String, level: Level, at: Timestamp, periodStartDay: Int64, spentMicros: Int64, budgetMicros: Int64, message: String) {
        self.team = team
        self.level = level
        self.at = at
        self.periodStartDay = periodStartDay
        self.spentMicros = spentMicros
        self.budgetMicros = budgetMicros
        self.message = message
    }
}

/// Where a team stands against its budget in the current period.
public struct BudgetStatus: Hashable, Sendable {
    public var budget: Budget
    public var spentMicros: Int64
    /// What the team's admitted jobs still reserve of it: their estimates less what they booked.
    public var reservedMicros: Int64 = 0
    public var periodStart: CivilDate
    /// First day of the next period: when the budget resets.
    public var resets: CivilDate
    public var remainingMicros: Int64 { budget.amountMicros - spentMicros }
    /// What a new job may still be admitted for: the remainder less the reservations.
    public var availableMicros: Int64 { remainingMicros - reservedMicros }
    public var exhausted: Bool { spentMicros >= budget.amountMicros }
}
