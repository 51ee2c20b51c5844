import DroverCore
import Foundation
import Yams

/// A configuration that cannot work, with what to change.
public struct ConfigurationError: Error, Equatable, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// One setting under its three names: a flag, an environment variable and a configuration-file
/// field. ``Settings/resolve(_:flags:environment:file:fileName:)`` takes the flag, else the
/// environment, else the file, else leaves the default.
public struct Setting<Configuration>: Sendable {
    /// The configuration-file field, e.g. `leaseTtl`.
    public let key: String
    /// The flag without its dashes, e.g. `lease-ttl`.
    public let flag: String
    /// The environment variable, e.g. `DROVER_LEASE_TTL`.
    public let environment: String
    /// What it sets, with its unit or an example.
    public let summary: String
    /// The default, as a user would write it.
    public let defaultValue: String
    let apply: @Sendable (SettingInput, inout Configuration) throws(ConfigurationError) -> Void

    /// - Parameter environment: the variable; `DROVER_` and the flag upper-cased when nil.
    public init(_ key: String, flag: String, environment: String? = nil, default defaultValue: String, _ summary: String,
                apply: @escaping @Sendable (SettingInput, inout Configuration) throws(ConfigurationError) -> Void) {
        self.key = key
        self.flag = flag
        self.environment = environment ?? "DROVER_" + flag.uppercased().replacingOccurrences(of: "-", with: "_")
        self.summary = summary
        self.defaultValue = defaultValue
        self.apply = apply
    }
}

/// Every setting of one program, in the order its README table lists them.
public struct Settings<Configuration>: Sendable, RandomAccessCollection {
    /// Whose settings they are, for errors: `coordinator`, `agent`.
    public let program: String
    /// Whether they may come from a configuration file (the table then lists the file fields).
    public let hasFile: Bool
    public let all: [Setting<Configuration>]

    public init(_ program: String, hasFile: Bool = true, _ all: [Setting<Configuration>]) {
        self.program = program
        self.hasFile = hasFile
        self.all = all
    }

    public var startIndex: Int { all.startIndex }
    public var endIndex: Int { all.endIndex }
    public subscript(position: Int) -> Setting<Configuration> { all[position] }

    /// Applies every setting given to `defaults`: its flag, else its environment variable, else
    /// its field in the configuration file. Unknown file fields and flags are refused by name.
    ///
    /// - Parameters:
    ///   - flags: values of the flags given, by flag name without dashes (`lease-ttl`).
    ///   - file: the configuration file's top-level fields, if one was given.
    ///   - fileName: its path, for errors and for paths written relative to it.
    public func resolve(_ defaults: Configuration, flags: [String: String], environment: [String: String],
                        file: [String: JSONValue]? = nil, fileName: String? = nil) throws(ConfigurationError) -> Configuration {
        let fileLabel = fileName ?? "configuration file"
        if let file, let unknown = file.keys.sorted().first(where: { key in !all.contains { $0.key == key } }) {
            let hint = suggestion(for: unknown).map { " (did you mean '\($0)'?)" } ?? ""
            throw ConfigurationError("\(fileLabel): unknown field '\(unknown)'\(hint); known fields are \(all.map(\.key).sorted().joined(separator: ", "))")
        }
        if let unknown = flags.keys.sorted().first(where: { flag in !all.contains { $0.flag == flag } }) {
            throw ConfigurationError("--\(unknown) is not \("aeiou".contains(program.prefix(1)) ? "an" : "a") \(program) setting")
        }
        let fileDirectory = fileName.map { URL(fileURLWithPath: $0).deletingLastPathComponent().path }
        var configuration = defaults
        for setting in all {
            let input: SettingInput? = if let text = flags[setting.flag] {
                SettingInput(value: .text(text), origin: "--\(setting.flag)")
            } else if let text = environment[setting.environment] {
                SettingInput(value: .text(text), origin: setting.environment)
            } else if let value = file?[setting.key], value != .null {
                SettingInput(value: .file(value), origin: "\(fileLabel): \(setting.key)", fileDirectory: fileDirectory)
            } else {
                nil
            }
            if let input { try setting.apply(input, &configuration) }
        }
        return configuration
    }

    /// The known field an unknown one was probably meant to be (``Suggestion``).
    func suggestion(for unknown: String) -> String? {
        Suggestion.closest(to: unknown, in: all.map(\.key))
    }

    /// The settings as a Markdown table, as the README lists them.
    public var table: String {
        var lines = hasFile ? ["| file field | flag | environment | default | what it sets |", "|---|---|---|---|---|"]
            : ["| flag | environment | default | what it sets |", "|---|---|---|---|"]
        for setting in all {
            let file = hasFile ? "| `\(setting.key)` " : ""
            lines.append("\(file)| `--\(setting.flag)` | `\(setting.environment)` | \(setting.defaultValue) | \(setting.summary) |")
        }
        return lines.joined(separator: "\n")
    }

    /// Reads a YAML (or JSON) configuration file's top-level fields.
    public func loadFile(_ path: String) throws(ConfigurationError) -> [String: JSONValue] {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw ConfigurationError("cannot read the configuration file \(path): \((error as NSError).localizedDescription)")
        }
        let value: JSONValue
        do { value = try JSONValue(any: try Yams.load(yaml: text)) } catch { throw ConfigurationError("\(path): \(error)") }
        guard case .object(let fields) = value else { throw ConfigurationError("\(path): expected a mapping") }
        return fields
    }
}

/// A configuration resolved from its ``Settings`` and then checked as a whole.
public protocol ResolvableConfiguration: Sendable {
    init()
    /// Every setting, in the order the README's table lists them.
    static var settings: Settings<Self> { get }
    /// Checks what no single setting can: how settings fit together, and what is required.
    func validate() throws(ConfigurationError)
}

extension ResolvableConfiguration {
    public func validate() throws(ConfigurationError) {}

    /// Resolves every setting (flag > environment > file > default), then checks the whole once.
    public static func resolve(flags: [String: String], environment: [String: String], file: [String: JSONValue]? = nil,
                               fileName: String? = nil) throws(ConfigurationError) -> Self {
        let configuration = try settings.resolve(Self(), flags: flags, environment: environment, file: file, fileName: fileName)
        try configuration.validate()
        return configuration
    }

    /// The settings as the README's Markdown table; a test keeps the two equal.
    public static var settingsTable: String { settings.table }
}
