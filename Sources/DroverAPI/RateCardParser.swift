import DroverCore
import Foundation
import Yams

/// Parses a rate card: hourly prices by node label, overriding what agents declare.
///
/// ```yaml
/// rates:
///   - match: instance=g5.xlarge     # first matching entry wins
///     cpuHour: 0.05                 # per core-hour
///     memoryGiBHour: 0.006          # per GiB-hour
///     gpuHour: 1.006                # per GPU-hour
/// ```
public enum RateCardParser {
    public static func parse(yaml text: String) throws(SpecError) -> RateCard {
        let loaded: Any?
        do { loaded = try Yams.load(yaml: text) } catch {
            throw SpecError(field: "(top level)", "not valid YAML: \(error)")
        }
        guard case .object(let top) = try JSONValue(any: loaded) else { throw SpecError(field: "(top level)", "expected a mapping with 'rates'") }
        if let unknown = top.keys.filter({ $0 != "rates" }).sorted().first { throw SpecError(field: unknown, "unknown field; the file has only 'rates'") }
        guard case .array(let items)? = top["rates"] else { throw SpecError(field: "rates", "is required: a list of {match, cpuHour, memoryGiBHour, gpuHour}") }
        var entries: [RateCard.Entry] = []
        for (index, item) in items.enumerated() {
            let field = "rates[\(index)]"
            guard case .object(let fields) = item else { throw SpecError(field: field, "expected a mapping, got \(item.typeName)") }
            let known = ["match", "cpuHour", "memoryGiBHour", "gpuHour"]
            if let unknown = fields.keys.filter({ !known.contains($0) }).sorted().first {
                throw SpecError(field: "\(field).\(unknown)", "unknown field; known fields are cpuHour, gpuHour, match, memoryGiBHour")
            }
            guard case .string(let match)? = fields["match"], let equals = match.firstIndex(of: "="),
                  Labels.isValidKey(String(match[..<equals])), !match[match.index(after: equals)...].isEmpty else {
                throw SpecError(field: "\(field).match", "is required: a node label such as instance=g5.xlarge")
            }
            func price(_ key: String) throws(SpecError) -> Int64 {
                guard let value = fields[key], value != .null else { return 0 }
                let micros = try JobSpecParser.money(value, field: "\(field).\(key)")
                guard micros <= 1_000_000 * 1_000_000 else { throw SpecError(field: "\(field).\(key)", "must be at most 1000000") }
                return micros
            }
            entries.append(RateCard.Entry(label: String(match[..<equals]), value: String(match[match.index(after: equals)...]),
                                          prices: Prices(cpuHourMicros: try price("cpuHour"), memoryGiBHourMicros: try price("memoryGiBHour"),
                                                         gpuHourMicros: try price("gpuHour"))))
        }
        return RateCard(entries: entries)
    }
}
