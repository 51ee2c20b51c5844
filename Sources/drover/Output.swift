import DroverAPI
import DroverClient
import DroverCore
import Foundation

/// Plain-text tables and JSON for the read commands.
enum Output {
    static func printJSON(_ value: some Encodable) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        print(String(decoding: try encoder.encode(value), as: UTF8.self))
    }

    /// Columns separated by two spaces, left-aligned but for the `rightAligned` ones (numbers).
    static func table(_ header: [String], _ rows: [[String]], rightAligned: Set<Int> = []) -> String {
        var widths = header.map(\.count)
        for row in rows { for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], cell.count) } }
        func line(_ cells: [String]) -> String {
            var text = cells.enumerated().map { i, cell in
                if rightAligned.contains(i) { return String(repeating: " ", count: max(0, widths[i] - cell.count)) + cell }
                return i == cells.count - 1 ? cell : cell.padding(toLength: widths[i], withPad: " ", startingAt: 0)
            }
            .joined(separator: "  ")
            // An empty last cell leaves no trailing blanks.
            while text.last == " " { text.removeLast() }
            return text
        }
        return ([line(header)] + rows.map(line)).joined(separator: "\n")
    }

    static func time(_ text: String?) -> String {
        guard let text, let ms = WireTime.parse(text) else { return "-" }
        let date = Date(timeIntervalSince1970: Double(ms) / 1000)
        return date.formatted(Date.ISO8601FormatStyle(timeZone: .current).year().month().day().time(includingFractionalSeconds: false).dateTimeSeparator(.space))
    }

    /// An amount with 2 to 4 decimals: `0.00`, `0.10`, `0.0045`, `12.3457`.
    static func money(_ value: Decimal) -> String {
        Money.format(Money.micros(value), minPlaces: 2, maxPlaces: 4)
    }

    /// A column of amounts with one number of decimals, the fewest (at least `minPlaces`, at most
    /// `maxPlaces`) that shows every amount as `money` would: `0.0001` and `0.00` become
    /// `0.0001` and `0.0000`, so the decimal points line up when right-aligned.
    static func moneyColumn(_ values: [Decimal], minPlaces: Int = 2, maxPlaces: Int = 4) -> [String] {
        let micros = values.map(Money.micros)
        let places = micros.reduce(minPlaces) { places, amount in
            let text = Money.format(amount, minPlaces: minPlaces, maxPlaces: maxPlaces)
            return max(places, text.firstIndex(of: ".").map { text.distance(from: $0, to: text.endIndex) - 1 } ?? 0)
        }
        return micros.map { Money.format($0, places: places) }
    }

    static func resources(_ r: ResourcesView) -> String {
        "cpu \(Quantity.formatCPU(Int64((r.cpu * 1000).rounded()))), mem \(Quantity.formatSize(r.memory)), gpu \(r.gpu)"
    }

    static func progress(_ value: JSONValue?) -> String? {
        guard case .object(let fields)? = value else { return nil }
        var parts: [String] = []
        if case .number(let p)? = fields["progress"] { parts.append("\(Int((p * 100).rounded()))%") }
        if case .object(let metrics)? = fields["metrics"] {
            for (key, metric) in metrics.sorted(by: { $0.key < $1.key }) {
                if case .number(let n) = metric { parts.append("\(key)=\(String(format: "%.4g", n))") }
            }
        }
        return parts.isEmpty ? nil : parts.joined(separator: " ")
    }
}

/// Flushes standard output (so a line is seen by a pipe reader at once).
func flushStandardOutput() {
    fflush(nil)
}
