import DroverCore
import Foundation
import Yams

/// Turns a job spec (YAML or JSON, already decoded to ``JSONValue``) into a validated
/// ``JobSpec``. Every field is checked; unknown fields are refused by name.
///
/// ```yaml
/// name: forecast-train          # letters, digits, . _ -
/// team: forecasting
/// kind: batch                   # training | batch
/// tasks: 24                     # shards of a batch job
/// command: ["python3", "score.py"]   # or one string, run by /bin/sh -c
/// env: {HORIZON: "28", HF_TOKEN: {value: "hf_…", secret: true}}   # secrets are never shown back
/// resources: {cpu: 2, memory: 4GiB, gpu: 0}
/// priority: 0
/// constraints: ["zone=eu", "gpu.model!=T4", "instance in (g5.xlarge,g5.2xlarge)"]
/// timeout: 30m
/// expectedDuration: 20m         # for cost estimates and budget admission (default: timeout)
/// maxAttempts: 3
/// maxLostAttempts: 5
/// backoff: {initial: 1s, multiplier: 2, max: 5m, jitter: 0.1}
/// nonRetryableExitCodes: [2]
/// retryOnExitCodes: [1, 137]    # when given, only these are retried
/// checkpointExitCode: 85        # "checkpoint saved, run me again": requeued, no budget used
/// maxFailedTasks: 0
/// circuitBreaker: {failures: 5, fast: 10s}   # or false
/// ```
public enum JobSpecParser {
    static let knownFields: Set<String> = [
        "name", "team", "kind", "tasks", "command", "env", "resources", "priority", "constraints", "timeout",
        "maxAttempts", "maxLostAttempts", "backoff", "nonRetryableExitCodes", "retryOnExitCodes", "checkpointExitCode",
        "maxFailedTasks", "circuitBreaker", "expectedDuration",
    ]

    /// Parses YAML text (JSON is YAML too).
    public static func parse(yaml text: String) throws(SpecError) -> JobSpec {
        let loaded: Any?
        do { loaded = try Yams.load(yaml: text) } catch {
            throw SpecError(field: "(top level)", "not valid YAML: \(error)")
        }
        return try parse(try JSONValue(any: loaded))
    }

    /// Validates a decoded spec. Every top-level field is checked even after one fails: the
    /// error thrown carries all of them (``SpecError/others``).
    public static func parse(_ value: JSONValue) throws(SpecError) -> JobSpec {
        guard case .object(let fields) = value else {
            throw SpecError(field: "(top level)", "expected a mapping of job fields, got \(value.typeName)")
        }
        var errors = SpecErrorCollector()
        for unknown in fields.keys.filter({ !knownFields.contains($0) }).sorted() {
            errors.add(SpecError(field: unknown, unknownFieldMessage(unknown, known: knownFields.sorted())))
        }
        let name = errors.check(or: "") { () throws(SpecError) in try identifier(fields["name"], field: "name", maxLength: 128) }
        let team = errors.check(or: "") { () throws(SpecError) in try identifier(fields["team"], field: "team", maxLength: 63) }
        let taskCount = errors.check(or: 1) { () throws(SpecError) in
            try optionalInt(fields["tasks"], field: "tasks", range: 1...JobSpec.maxTaskCount) ?? 1
        }
        let kind = errors.check(or: JobKind.batch) { () throws(SpecError) -> JobKind in
            switch fields["kind"] {
            case nil: return taskCount > 1 ? .batch : .training
            case .string(let text)?:
                guard let parsed = JobKind(rawValue: text) else { throw SpecError(field: "kind", "must be 'training' or 'batch', got '\(text)'") }
                return parsed
            case let other?: throw SpecError(field: "kind", "must be 'training' or 'batch', got \(other.typeName)")
            }
        }
        if kind == .training && taskCount != 1 {
            errors.add(SpecError(field: "tasks", "a training job runs one task; use kind: batch for \(taskCount) shards"))
        }
        let command = errors.check(or: []) { () throws(SpecError) in try parseCommand(fields["command"]) }
        var secretKeys = Set<String>()
        let environment = errors.check(or: [:]) { () throws(SpecError) in try parseEnvironment(fields["env"], secretKeys: &secretKeys) }
        let resources = errors.check(or: JobSpec.defaultResources) { () throws(SpecError) in try parseResources(fields["resources"]) }
        let priority = errors.check(or: 0) { () throws(SpecError) in try optionalInt(fields["priority"], field: "priority", range: -1000...1000) ?? 0 }
        let constraints = errors.check(or: []) { () throws(SpecError) in try parseConstraints(fields["constraints"]) }
        let timeout = errors.check(or: nil) { () throws(SpecError) in try positiveDuration(fields["timeout"], field: "timeout") }
        let expectedDuration = errors.check(or: nil) { () throws(SpecError) in try positiveDuration(fields["expectedDuration"], field: "expectedDuration") }
        var retry = RetryPolicy()
        retry.maxAttempts = errors.check(or: retry.maxAttempts) { () throws(SpecError) in
            try optionalInt(fields["maxAttempts"], field: "maxAttempts", range: 1...100) ?? retry.maxAttempts
        }
        retry.maxLostAttempts = errors.check(or: retry.maxLostAttempts) { () throws(SpecError) in
            try optionalInt(fields["maxLostAttempts"], field: "maxLostAttempts", range: 0...100) ?? retry.maxLostAttempts
        }
        retry.backoff = errors.check(or: retry.backoff) { () throws(SpecError) in try parseBackoff(fields["backoff"]) }
        retry.nonRetryableExitCodes = errors.check(or: []) { () throws(SpecError) in
            try exitCodes(fields["nonRetryableExitCodes"], field: "nonRetryableExitCodes") ?? []
        }
        retry.retryOnExitCodes = errors.check(or: nil) { () throws(SpecError) in try exitCodes(fields["retryOnExitCodes"], field: "retryOnExitCodes") }
        retry.checkpointExitCode = errors.check(or: nil) { () throws(SpecError) in
            try optionalInt(fields["checkpointExitCode"], field: "checkpointExitCode", range: 1...255).map { Int32($0) }
        }
        if let code = retry.checkpointExitCode, retry.nonRetryableExitCodes.contains(code) {
            errors.add(SpecError(field: "checkpointExitCode", "\(code) is also listed in nonRetryableExitCodes"))
        }
        let maxFailedTasks = errors.check(or: 0) { () throws(SpecError) in
            try optionalInt(fields["maxFailedTasks"], field: "maxFailedTasks", range: 0...JobSpec.maxTaskCount) ?? 0
        }
        let circuitBreaker = errors.check(or: nil) { () throws(SpecError) in try parseCircuitBreaker(fields["circuitBreaker"]) }
        try errors.throwIfAny()
        var spec = JobSpec(name: name, team: team, kind: kind, taskCount: taskCount, command: command, environment: environment,
                           resources: resources, priority: priority, constraints: constraints, retry: retry,
                           timeoutMilliseconds: timeout, maxFailedTasks: maxFailedTasks, circuitBreaker: circuitBreaker)
        spec.secretKeys = secretKeys.isEmpty ? nil : secretKeys
        spec.expectedDurationMilliseconds = expectedDuration
        return spec
    }

    /// "unknown field", with the known field nearest to it when it looks like a typo of one.
    static func unknownFieldMessage(_ unknown: String, known: [String]) -> String {
        if let near = Suggestion.closest(to: unknown, in: known) {
            return "unknown field; did you mean '\(near)'? (known fields are \(known.joined(separator: ", ")))"
        }
        return "unknown field; known fields are \(known.joined(separator: ", "))"
    }

    /// Parses a quota (`PUT /v1/quotas/{team}`): `{cpu, memory, gpu, running, weight}`, each
    /// optional (absent: unlimited); refuses unknown fields by name.
    public static func parseQuota(_ value: JSONValue) throws(SpecError) -> Quota {
        guard case .object(let fields) = value else { throw SpecError(field: "(top level)", "expected a mapping with cpu, memory, gpu, running, weight, budget") }
        if let unknown = fields.keys.filter({ !["cpu", "memory", "gpu", "running", "weight", "budget"].contains($0) }).sorted().first {
            throw SpecError(field: unknown, "unknown field; known fields are budget, cpu, gpu, memory, running, weight")
        }
        var quota = Quota()
        if let cpu = fields["cpu"], cpu != .null { quota.millicores = try parseCPU(cpu, field: "cpu") }
        if let memory = fields["memory"], memory != .null { quota.memoryBytes = try parseSize(memory, field: "memory") }
        if let gpu = fields["gpu"], gpu != .null { quota.gpus = try int(gpu, field: "gpu", range: 0...1_000_000) }
        if let running = fields["running"], running != .null { quota.runningTasks = try int(running, field: "running", range: 0...100_000_000) }
        if let weight = fields["weight"] {
            guard case .number(let w) = weight, w > 0, w <= 1000 else { throw SpecError(field: "weight", "must be a number more than 0, at most 1000") }
            quota.weight = w
        }
        if let budget = fields["budget"], budget != .null { quota.budget = try parseBudget(budget) }
        return quota
    }

    /// Parses a budget: `"500/month"` (also `day`, `week`), or
    /// `{amount: "500", period: month, softPercent: 80, hardStop: false}`.
    public static func parseBudget(_ value: JSONValue, field: String = "budget") throws(SpecError) -> Budget {
        switch value {
        case .string(let text):
            let parts = text.split(separator: "/", omittingEmptySubsequences: false)
            guard parts.count == 2 else { throw SpecError(field: field, "expected AMOUNT/PERIOD such as 500/month, got '\(text)'") }
            let amount = try money(.string(String(parts[0]).trimmingCharacters(in: .whitespaces)), field: field)
            guard let period = BudgetPeriod(rawValue: parts[1].trimmingCharacters(in: .whitespaces).lowercased()) else {
                throw SpecError(field: field, "period must be day, week or month, got '\(parts[1])'")
            }
            return Budget(amountMicros: amount, period: period)
        case .object(let fields):
            let known = ["amount", "period", "softPercent", "hardStop"]
            if let unknown = fields.keys.filter({ !known.contains($0) }).sorted().first {
                throw SpecError(field: "\(field).\(unknown)", "unknown field; known fields are amount, hardStop, period, softPercent")
            }
            guard let amountValue = fields["amount"] else { throw SpecError(field: "\(field).amount", "is required") }
            let amount = try money(amountValue, field: "\(field).amount")
            guard case .string(let periodText)? = fields["period"], let period = BudgetPeriod(rawValue: periodText) else {
                throw SpecError(field: "\(field).period", "is required: day, week or month")
            }
            var budget = Budget(amountMicros: amount, period: period)
            budget.softPercent = try optionalInt(fields["softPercent"], field: "\(field).softPercent", range: 1...100) ?? budget.softPercent
            switch fields["hardStop"] {
            case nil, .null?: break
            case .bool(let flag)?: budget.hardStop = flag
            case let other?: throw SpecError(field: "\(field).hardStop", "expected true or false, got \(other.typeName)")
            }
            return budget
        default:
            throw SpecError(field: field, "expected AMOUNT/PERIOD such as 500/month, or a mapping with amount and period; got \(value.typeName)")
        }
    }

    /// A non-negative amount of money with at most six decimals, as a string or a number.
    public static func money(_ value: JSONValue, field: String) throws(SpecError) -> Int64 {
        let text: String
        switch value {
        case .string(let s): text = s
        case .number(let n) where n.isFinite && n >= 0 && n < 1e12:
            // The shortest text that reads back as the same double: what the person wrote.
            text = n == n.rounded() ? String(Int64(n)) : "\(n)"
        default: throw SpecError(field: field, "expected a non-negative amount such as 12.50, got \(value.typeName)")
        }
        guard let micros = Money.parseMicros(text) else {
            throw SpecError(field: field, "'\(text)' is not an amount: digits with at most 6 decimals, such as 12.50")
        }
        return micros
    }

    // MARK: - Fields

    static func identifier(_ value: JSONValue?, field: String, maxLength: Int) throws(SpecError) -> String {
        guard let value else { throw SpecError(field: field, "is required") }
        guard case .string(let text) = value else { throw SpecError(field: field, "expected a string, got \(value.typeName)") }
        try checkIdentifier(text, field: field, maxLength: maxLength)
        return text
    }

    /// Names are 1–`maxLength` of letters, digits, `.`, `_`, `-`, not starting with `.` or `-`
    /// (they end up in paths and command lines).
    public static func checkIdentifier(_ text: String, field: String, maxLength: Int) throws(SpecError) {
        guard !text.isEmpty else { throw SpecError(field: field, "must not be empty") }
        guard text.count <= maxLength else { throw SpecError(field: field, "is longer than \(maxLength) characters") }
        guard text.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) }), !text.hasPrefix("."), !text.hasPrefix("-") else {
            throw SpecError(field: field, "'\(text)' may only contain letters, digits, '.', '_' and '-', and must not start with '.' or '-'")
        }
    }

    static func parseCommand(_ value: JSONValue?) throws(SpecError) -> [String] {
        guard let value else { throw SpecError(field: "command", "is required: a list of arguments or a shell command string") }
        let command: [String]
        switch value {
        case .string(let text):
            guard !text.trimmingCharacters(in: .whitespaces).isEmpty else { throw SpecError(field: "command", "must not be empty") }
            command = ["/bin/sh", "-c", text]
        case .array(let items):
            guard !items.isEmpty else { throw SpecError(field: "command", "must not be empty") }
            var args: [String] = []
            for (index, item) in items.enumerated() {
                switch item {
                case .string(let text): args.append(text)
                case .number(let n): args.append(n == n.rounded() && abs(n) < 9e15 ? String(Int64(n)) : String(n))
                default: throw SpecError(field: "command[\(index)]", "expected a string, got \(item.typeName)")
                }
            }
            guard !args[0].isEmpty else { throw SpecError(field: "command[0]", "the program name must not be empty") }
            command = args
        default:
            throw SpecError(field: "command", "expected a list of arguments or a string, got \(value.typeName)")
        }
        for (index, arg) in command.enumerated() {
            if arg.utf8.contains(0) { throw SpecError(field: "command[\(index)]", "must not contain a NUL byte") }
            if arg.utf8.count > 128 * 1024 { throw SpecError(field: "command[\(index)]", "is longer than 128 KiB") }
        }
        return command
    }

    static func parseEnvironment(_ value: JSONValue?, secretKeys: inout Set<String>) throws(SpecError) -> [String: String] {
        guard let value else { return [:] }
        guard case .object(let fields) = value else { throw SpecError(field: "env", "expected a mapping of NAME: value, got \(value.typeName)") }
        var environment: [String: String] = [:]
        // Every variable's mistake at once, in name order.
        var errors = SpecErrorCollector()
        for (key, item) in fields.sorted(by: { $0.key < $1.key }) {
            let text = errors.check(or: nil) { () throws(SpecError) -> String? in try parseVariable(key, item, secretKeys: &secretKeys) }
            if let text { environment[key] = text }
        }
        try errors.throwIfAny()
        return environment
    }

    /// One `env` entry: a value, or `{value, secret}` (then `key` joins `secretKeys`).
    private static func parseVariable(_ key: String, _ item: JSONValue, secretKeys: inout Set<String>) throws(SpecError) -> String {
        let field = "env.\(key)"
        guard let first = key.first, first == "_" || (first.isASCII && first.isLetter),
              key.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }) else {
            throw SpecError(field: field, "is not a valid variable name (letters, digits and '_', not starting with a digit)")
        }
        if key.hasPrefix("DROVER_") { throw SpecError(field: field, "DROVER_* variables are set by the agent and cannot be given") }
        var item = item
        if case .object(let secret) = item {
            // `KEY: {value: "…", secret: true}` marks a secret.
            if let unknown = secret.keys.filter({ !["value", "secret"].contains($0) }).sorted().first {
                throw SpecError(field: "\(field).\(unknown)", "unknown field; a variable is a value or {value, secret}")
            }
            guard let value = secret["value"] else { throw SpecError(field: "\(field).value", "is required") }
            switch secret["secret"] {
            case nil, .bool(false)?: break
            case .bool(true)?: secretKeys.insert(key)
            case let other?: throw SpecError(field: "\(field).secret", "expected true or false, got \(other.typeName)")
            }
            item = value
        }
        let text: String
        switch item {
        case .string(let string): text = string
        case .number(let n): text = n == n.rounded() && abs(n) < 9e15 ? String(Int64(n)) : String(n)
        case .bool(let b): text = b ? "true" : "false"
        default: throw SpecError(field: field, "expected a string, got \(item.typeName)")
        }
        if text.utf8.contains(0) { throw SpecError(field: field, "must not contain a NUL byte") }
        return text
    }


    static func parseResources(_ value: JSONValue?) throws(SpecError) -> Resources {
        var resources = JobSpec.defaultResources
        guard let value else { return resources }
        guard case .object(let fields) = value else { throw SpecError(field: "resources", "expected a mapping with cpu, memory, gpu, got \(value.typeName)") }
        // Every mistake in the mapping at once, as at the top level.
        var errors = SpecErrorCollector()
        let known = ["cpu", "gpu", "memory"]
        for unknown in fields.keys.filter({ !known.contains($0) }).sorted() {
            errors.add(SpecError(field: "resources.\(unknown)", unknownFieldMessage(unknown, known: known)))
        }
        if let cpu = fields["cpu"] {
            resources.millicores = errors.check(or: resources.millicores) { () throws(SpecError) in try parseCPU(cpu, field: "resources.cpu") }
        }
        if let memory = fields["memory"] {
            resources.memoryBytes = errors.check(or: resources.memoryBytes) { () throws(SpecError) in try parseSize(memory, field: "resources.memory") }
        }
        if let gpu = fields["gpu"] {
            resources.gpus = errors.check(or: resources.gpus) { () throws(SpecError) in try int(gpu, field: "resources.gpu", range: 0...1024) }
        }
        try errors.throwIfAny()
        return resources
    }

    /// CPU as a number of cores (`2`, `0.5`) or millicores (`"500m"`); more than 0, at most 1,000,000 cores.
    public static func parseCPU(_ value: JSONValue, field: String) throws(SpecError) -> Int64 {
        let millicores: Int64?
        switch value {
        case .number(let n): millicores = n.isFinite && n > 0 && n <= 1e6 ? Int64((n * 1000).rounded()) : nil
        case .string(let text): millicores = Quantity.parseCPU(text)
        default: throw SpecError(field: field, "expected a number of cores such as 2 or 0.5, got \(value.typeName)")
        }
        guard let millicores, millicores > 0, millicores <= 1_000_000_000 else {
            throw SpecError(field: field, "must be a number of cores more than 0 and at most 1000000, such as 2 or 0.5")
        }
        return millicores
    }

    /// Memory as a size (`512MiB`, `8GiB`) or a number of bytes; more than 0, at most 1 PiB.
    public static func parseSize(_ value: JSONValue, field: String) throws(SpecError) -> Int64 {
        let bytes: Int64?
        switch value {
        case .number(let n): bytes = n.isFinite && n == n.rounded() && n > 0 && n < 9e18 ? Int64(n) : nil
        case .string(let text): bytes = Quantity.parseSize(text)
        default: throw SpecError(field: field, "expected a size such as 512MiB or 8GiB, got \(value.typeName)")
        }
        guard let bytes, bytes > 0, bytes <= 1 << 50 else {
            throw SpecError(field: field, "must be a size more than 0 and at most 1PiB, such as 512MiB or 8GiB")
        }
        return bytes
    }

    static func parseConstraints(_ value: JSONValue?) throws(SpecError) -> [Constraint] {
        guard let value else { return [] }
        switch value {
        case .array(let items):
            var constraints: [Constraint] = []
            for (index, item) in items.enumerated() {
                guard case .string(let text) = item, let constraint = Constraint(parsing: text) else {
                    throw SpecError(field: "constraints[\(index)]", "expected 'key=value', 'key!=value' or 'key in (a,b)'")
                }
                constraints.append(constraint)
            }
            return constraints
        case .object(let fields):
            var constraints: [Constraint] = []
            for (key, item) in fields.sorted(by: { $0.key < $1.key }) {
                guard case .string(let text) = item, Labels.isValidKey(key) else {
                    throw SpecError(field: "constraints.\(key)", "expected a label value (string) under a valid label key")
                }
                constraints.append(Constraint(key: key, op: .equal, value: text))
            }
            return constraints
        default:
            throw SpecError(field: "constraints", "expected a list such as [\"zone=eu\"], got \(value.typeName)")
        }
    }

    static func exitCodes(_ value: JSONValue?, field: String) throws(SpecError) -> Set<Int32>? {
        guard let value else { return nil }
        guard case .array(let items) = value else { throw SpecError(field: field, "expected a list of exit codes, got \(value.typeName)") }
        var set = Set<Int32>()
        for (index, item) in items.enumerated() { set.insert(Int32(try int(item, field: "\(field)[\(index)]", range: 0...255))) }
        return set
    }

    static func parseCircuitBreaker(_ value: JSONValue?) throws(SpecError) -> CircuitBreaker? {
        var breaker = CircuitBreaker()
        switch value {
        case nil: return breaker
        case .bool(false)?: return nil
        case .bool(true)?: return breaker
        case .object(let fields)?:
            if let unknown = fields.keys.filter({ !["failures", "fast"].contains($0) }).sorted().first {
                throw SpecError(field: "circuitBreaker.\(unknown)", "unknown field; known fields are failures, fast")
            }
            breaker.failures = try optionalInt(fields["failures"], field: "circuitBreaker.failures", range: 0...10_000) ?? breaker.failures
            breaker.fastMilliseconds = try optionalDuration(fields["fast"], field: "circuitBreaker.fast") ?? breaker.fastMilliseconds
            return breaker.failures == 0 ? nil : breaker
        case let other?:
            throw SpecError(field: "circuitBreaker", "expected false or a mapping {failures, fast}, got \(other.typeName)")
        }
    }

    static func parseBackoff(_ value: JSONValue?) throws(SpecError) -> RetryPolicy.Backoff {
        var backoff = RetryPolicy.Backoff()
        guard let value else { return backoff }
        guard case .object(let fields) = value else { throw SpecError(field: "backoff", "expected a mapping with initial, multiplier, max, jitter") }
        if let unknown = fields.keys.filter({ !["initial", "multiplier", "max", "jitter"].contains($0) }).sorted().first {
            throw SpecError(field: "backoff.\(unknown)", "unknown field; known fields are initial, multiplier, max, jitter")
        }
        backoff.initialMilliseconds = try optionalDuration(fields["initial"], field: "backoff.initial") ?? backoff.initialMilliseconds
        backoff.maxMilliseconds = try optionalDuration(fields["max"], field: "backoff.max") ?? backoff.maxMilliseconds
        if let multiplier = fields["multiplier"] {
            guard case .number(let n) = multiplier, n >= 1, n <= 100 else { throw SpecError(field: "backoff.multiplier", "must be a number from 1 to 100") }
            backoff.multiplier = n
        }
        if let jitter = fields["jitter"] {
            guard case .number(let n) = jitter, n >= 0, n <= 1 else { throw SpecError(field: "backoff.jitter", "must be a number from 0 to 1") }
            backoff.jitter = n
        }
        if backoff.maxMilliseconds < backoff.initialMilliseconds { throw SpecError(field: "backoff.max", "must not be less than backoff.initial") }
        return backoff
    }

    // MARK: - Scalars

    static func int(_ value: JSONValue, field: String, range: ClosedRange<Int>) throws(SpecError) -> Int {
        guard case .number(let n) = value else { throw SpecError(field: field, "expected a whole number, got \(value.typeName)") }
        guard n == n.rounded(), n.isFinite, n >= Double(range.lowerBound), n <= Double(range.upperBound) else {
            throw SpecError(field: field, "must be a whole number from \(range.lowerBound) to \(range.upperBound), got \(n)")
        }
        return Int(n)
    }

    static func optionalInt(_ value: JSONValue?, field: String, range: ClosedRange<Int> = Int.min / 2...Int.max / 2) throws(SpecError) -> Int? {
        guard let value else { return nil }
        return try int(value, field: field, range: range)
    }

    /// An optional duration that must be more than zero.
    static func positiveDuration(_ value: JSONValue?, field: String) throws(SpecError) -> Int64? {
        let duration = try optionalDuration(value, field: field)
        if let duration, duration < 1 { throw SpecError(field: field, "must be positive") }
        return duration
    }

    /// A duration string (`30s`, `5m`, `2h`) or a number of seconds.
    static func optionalDuration(_ value: JSONValue?, field: String) throws(SpecError) -> Int64? {
        guard let value else { return nil }
        switch value {
        case .number(let n):
            guard n.isFinite, n >= 0, n <= 1e9 else { throw SpecError(field: field, "must be a duration such as 30s, 5m or 2h") }
            return Int64((n * 1000).rounded())
        case .string(let text):
            guard let ms = Quantity.parseDuration(text) else { throw SpecError(field: field, "'\(text)' is not a duration such as 500ms, 30s, 5m or 2h") }
            return ms
        default:
            throw SpecError(field: field, "expected a duration such as 30s, 5m or 2h, got \(value.typeName)")
        }
    }
}
