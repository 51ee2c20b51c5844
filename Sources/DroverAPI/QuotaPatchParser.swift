import DroverCore

extension JobSpecParser {
    /// Parses a quota change (`PATCH /v1/quotas/{team}`, a JSON merge patch, RFC 7396): each of
    /// `cpu, memory, gpu, running, weight, budget` that is given is set, `null` clears it (a
    /// limit becomes unlimited, the weight 1, the budget none), and one not given is kept.
    /// `budget` is `"500/month"` (amount and period) or a mapping with any of `amount`, `period`,
    /// `softPercent`, `hardStop`; the budget's other fields are kept.
    public static func parseQuotaPatch(_ value: JSONValue) throws(SpecError) -> QuotaPatch {
        let known = QuotaPatch.fieldNames
        guard case .object(let fields) = value else { throw SpecError(field: "(top level)", "expected a mapping with any of \(known.joined(separator: ", "))") }
        if let unknown = fields.keys.filter({ !known.contains($0) }).sorted().first {
            throw SpecError(field: unknown, unknownFieldMessage(unknown, known: known))
        }
        func change<V: Hashable & Sendable>(_ field: String, _ parse: (JSONValue) throws(SpecError) -> V) throws(SpecError) -> QuotaPatch.Change<V> {
            switch fields[field] {
            case nil: .keep
            case .null?: .clear
            case let given?: .set(try parse(given))
            }
        }
        var patch = QuotaPatch()
        patch.millicores = try change("cpu") { v throws(SpecError) in try parseCPU(v, field: "cpu") }
        patch.memoryBytes = try change("memory") { v throws(SpecError) in try parseSize(v, field: "memory") }
        patch.gpus = try change("gpu") { v throws(SpecError) in try int(v, field: "gpu", range: 0...1_000_000) }
        patch.runningTasks = try change("running") { v throws(SpecError) in try int(v, field: "running", range: 0...100_000_000) }
        patch.weight = try change("weight") { v throws(SpecError) in
            guard case .number(let w) = v, w > 0, w <= 1000 else { throw SpecError(field: "weight", "must be a number more than 0, at most 1000") }
            return w
        }
        patch.budget = try change("budget", parseBudgetPatch)
        return patch
    }

    /// A budget change: `"500/month"`, or a mapping with any of amount, period, softPercent, hardStop.
    static func parseBudgetPatch(_ value: JSONValue) throws(SpecError) -> BudgetPatch {
        let field = "budget"
        guard case .object(let fields) = value else {
            let budget = try parseBudget(value, field: field)
            return BudgetPatch(amountMicros: budget.amountMicros, period: budget.period)
        }
        let known = ["amount", "period", "softPercent", "hardStop"]
        if let unknown = fields.keys.filter({ !known.contains($0) }).sorted().first {
            throw SpecError(field: "\(field).\(unknown)", "unknown field; known fields are amount, hardStop, period, softPercent")
        }
        var patch = BudgetPatch()
        if let amount = fields["amount"], amount != .null { patch.amountMicros = try money(amount, field: "\(field).amount") }
        switch fields["period"] {
        case nil, .null?: break
        case .string(let text)?:
            guard let period = BudgetPeriod(rawValue: text) else { throw SpecError(field: "\(field).period", "must be day, week or month, got '\(text)'") }
            patch.period = period
        case let other?: throw SpecError(field: "\(field).period", "expected day, week or month, got \(other.typeName)")
        }
        patch.softPercent = try optionalInt(fields["softPercent"], field: "\(field).softPercent", range: 1...100)
        switch fields["hardStop"] {
        case nil, .null?: break
        case .bool(let flag)?: patch.hardStop = flag
        case let other?: throw SpecError(field: "\(field).hardStop", "expected true or false, got \(other.typeName)")
        }
        return patch
    }
}
