/// Parsing and printing of the human quantities in job specs and flags:
/// durations (`500ms`, `30s`, `5m`, `2h`) and sizes (`512MiB`, `8GiB`).
public enum Quantity {
    /// Parses a duration into milliseconds. Accepts `ms`, `s`, `m`, `h`, `d` suffixes,
    /// combinations such as `1h30m`, and decimals such as `1.5s`.
    public static func parseDuration(_ text: String) -> Int64? {
        let units: [(String, Double)] = [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000), ("d", 86_400_000)]
        var rest = Substring(text.trimmingSpaces())
        guard !rest.isEmpty else { return nil }
        var total = 0.0
        while !rest.isEmpty {
            let number = rest.prefix { $0.isNumber || $0 == "." }
            guard !number.isEmpty, let value = Double(number) else { return nil }
            rest = rest.dropFirst(number.count)
            let unitText = rest.prefix { $0.isLetter }
            guard let unit = units.first(where: { $0.0 == String(unitText) }) else { return nil }
            rest = rest.dropFirst(unitText.count)
            total += value * unit.1
        }
        guard total.isFinite, total <= 366 * 86_400_000 * 100 else { return nil }
        return Int64(total.rounded())
    }

    /// Formats milliseconds as the shortest readable duration (`1h2m`, `3.5s`, `250ms`).
    public static func formatDuration(_ ms: Int64) -> String {
        if ms < 1000 { return "\(ms)ms" }
        if ms < 60_000 {
            let tenths = (ms + 50) / 100
            return tenths % 10 == 0 ? "\(tenths / 10)s" : "\(tenths / 10).\(tenths % 10)s"
        }
        let seconds = ms / 1000
        let h = seconds / 3600, m = (seconds % 3600) / 60, s = seconds % 60
        if h > 0 { return m > 0 ? "\(h)h\(m)m" : "\(h)h" }
        return s > 0 ? "\(m)m\(s)s" : "\(m)m"
    }

    /// Parses a size into bytes: `512MiB`, `8GiB`, `1.5G`, `100M`, `4096` (bytes).
    /// Decimal units (`KB`, `MB`, `GB`, `TB`) are powers of 1000; binary ones and the
    /// bare letters `K`, `M`, `G`, `T` are powers of 1024, as in Slurm and Kubernetes' `Mi`.
    public static func parseSize(_ text: String) -> Int64? {
        let trimmed = text.trimmingSpaces()
        let number = trimmed.prefix { $0.isNumber || $0 == "." }
        guard !number.isEmpty, let value = Double(number) else { return nil }
        let unit = trimmed.dropFirst(number.count).trimmingSpaces().lowercased()
        let factors: [String: Double] = [
            "": 1, "b": 1,
            "k": 1024, "ki": 1024, "kib": 1024, "kb": 1000,
            "m": 1_048_576, "mi": 1_048_576, "mib": 1_048_576, "mb": 1e6,
            "g": 1_073_741_824, "gi": 1_073_741_824, "gib": 1_073_741_824, "gb": 1e9,
            "t": 1_099_511_627_776, "ti": 1_099_511_627_776, "tib": 1_099_511_627_776, "tb": 1e12,
        ]
        guard let factor = factors[unit] else { return nil }
        let bytes = value * factor
        guard bytes.isFinite, bytes < 9e18 else { return nil }
        return Int64(bytes.rounded())
    }

    /// Formats bytes with binary units (`512MiB`, `7.8GiB`).
    public static func formatSize(_ bytes: Int64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1024, unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        if unit == 0 || value == value.rounded() { return "\(Int64(value.rounded()))\(units[unit])" }
        return "\(Double(Int(value * 10)) / 10)\(units[unit])"
    }

    /// Parses CPU cores (`2`, `0.5`, `500m`) into millicores.
    public static func parseCPU(_ text: String) -> Int64? {
        let trimmed = text.trimmingSpaces()
        if trimmed.hasSuffix("m"), let milli = Int64(trimmed.dropLast()) { return milli }
        guard let cores = Double(trimmed), cores.isFinite, cores < 1e9 else { return nil }
        return Int64((cores * 1000).rounded())
    }

    /// Formats millicores as cores (`2`, `0.5`).
    public static func formatCPU(_ millicores: Int64) -> String {
        if millicores % 1000 == 0 { return String(millicores / 1000) }
        var text = String(Double(millicores) / 1000)
        if text.hasSuffix(".0") { text.removeLast(2) }
        return text
    }
}

extension StringProtocol {
    func trimmingSpaces() -> String {
        var slice = Substring(self)
        while let first = slice.first, first.isWhitespace { slice.removeFirst() }
        while let last = slice.last, last.isWhitespace { slice.removeLast() }
        return String(slice)
    }
}
