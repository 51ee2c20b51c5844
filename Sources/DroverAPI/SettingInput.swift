import DroverCore
import Foundation

/// A setting's value as one source gave it, with the name to blame in an error.
public struct SettingInput: Sendable {
    public enum Value: Sendable {
        /// From a flag or an environment variable.
        case text(String)
        /// From the configuration file.
        case file(JSONValue)
    }

    public var value: Value
    /// `--lease-ttl`, `DROVER_LEASE_TTL` or `coordinator.yaml: leaseTtl`.
    public var origin: String
    /// The configuration file's directory, for paths given in it.
    public var fileDirectory: String?

    public init(value: Value, origin: String, fileDirectory: String? = nil) {
        self.value = value
        self.origin = origin
        self.fileDirectory = fileDirectory
    }

    /// An error naming where the value came from.
    public func fail(_ what: String) -> ConfigurationError { ConfigurationError("\(origin): \(what)") }

    /// The value as text; numbers in the file are accepted where text is.
    public func text() throws(ConfigurationError) -> String {
        switch value {
        case .text(let text): return text
        case .file(.string(let text)): return text
        // The shortest text that reads back as the same double: what the person wrote.
        case .file(.number(let number)) where number.isFinite: return number == number.rounded() && abs(number) < 9e15 ? String(Int64(number)) : "\(number)"
        case .file(let other): throw fail("expected a string, got \(other.typeName)")
        }
    }

    public func duration(example: String, minimum: Int64 = 1) throws(ConfigurationError) -> Duration {
        let text = try text()
        guard let milliseconds = Quantity.parseDuration(text), milliseconds >= minimum else {
            throw fail("'\(text)' is not a duration such as \(example)" + (minimum > 1 ? " (at least \(Quantity.formatDuration(minimum)))" : ""))
        }
        return .milliseconds(milliseconds)
    }

    public func integer(in range: ClosedRange<Int>) throws(ConfigurationError) -> Int {
        let text = try text()
        guard let value = Int(text), range.contains(value) else { throw fail("'\(text)' is not a whole number in \(range.lowerBound)...\(range.upperBound)") }
        return value
    }

    /// A number more than `minimum`, e.g. CPU cores.
    public func number(above minimum: Double) throws(ConfigurationError) -> Double {
        let text = try text()
        guard let value = Double(text), value.isFinite, value > minimum else { throw fail("'\(text)' is not a number above \(Int(minimum))") }
        return value
    }

    /// A size such as 8GiB, more than zero.
    public func size(example: String) throws(ConfigurationError) -> Int64 {
        let text = try text()
        guard let bytes = Quantity.parseSize(text), bytes > 0 else { throw fail("'\(text)' is not a size such as \(example)") }
        return bytes
    }

    /// A non-negative amount such as 0.05, exactly as written.
    public func amount() throws(ConfigurationError) -> Decimal {
        let text = try text()
        guard let value = Decimal(string: text), value >= 0 else { throw fail("'\(text)' is not a non-negative number such as 0.05") }
        return value
    }

    /// true or false (also yes/no, on/off, 1/0 as text).
    public func bool() throws(ConfigurationError) -> Bool {
        if case .file(.bool(let flag)) = value { return flag }
        let text = try text()
        switch text.lowercased() {
        case "true", "yes", "on", "1": return true
        case "false", "no", "off", "0": return false
        default: throw fail("'\(text)' is not true or false")
        }
    }

    /// A path; one written in the configuration file is relative to the file.
    public func path() throws(ConfigurationError) -> String {
        let path = try text()
        guard !path.isEmpty else { throw fail("expected a path, got nothing") }
        guard let fileDirectory, !path.hasPrefix("/") else { return path }
        return URL(fileURLWithPath: fileDirectory).appendingPathComponent(path).path
    }

    /// An http or https URL with a host, such as http://127.0.0.1:7070.
    public func url() throws(ConfigurationError) -> String {
        let text = try text()
        if !text.contains("://") {
            throw fail("'\(text)' has no scheme; did you mean http://\(text)? (https:// for a coordinator beyond loopback)")
        }
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme),
              let host = url.host, !host.isEmpty else {
            throw fail("'\(text)' is not an http or https URL such as http://127.0.0.1:7070")
        }
        return text
    }

    /// A list: from the file as a list, from text (or a file string) separated by commas or new lines.
    public func list() throws(ConfigurationError) -> [String] {
        if case .file(.array(let items)) = value {
            var texts: [String] = []
            for (index, item) in items.enumerated() {
                texts.append(try SettingInput(value: .file(item), origin: "\(origin)[\(index)]").text())
            }
            return texts
        }
        return try text().split(whereSeparator: { $0 == "," || $0 == "\n" }).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    /// A mapping: from the file as it is, from a flag or the environment as JSON text.
    public func mapping() throws(ConfigurationError) -> JSONValue {
        switch value {
        case .file(let value): return value
        case .text(let text):
            guard let value = try? JSONDecoder().decode(JSONValue.self, from: Data(text.utf8)) else {
                throw fail("'\(text)' is not a JSON mapping such as {\"cpu\": 64, \"memory\": \"256GiB\"}")
            }
            return value
        }
    }
}
