import ArgumentParser
import DroverAPI
import DroverClient
import Foundation

/// A failure of the CLI itself (a flag combination, a file), with what to do and its exit status.
struct CLIError: Error, CustomStringConvertible {
    var description: String
    var status: CLIExitStatus

    init(_ description: String, status: CLIExitStatus = .usage) {
        self.description = description
        self.status = status
    }
}

/// Every error a command can end with, as the one line (or list) printed and the exit status
/// (README: Exit codes). ArgumentParser's own errors (help, usage) are left to it: nil.
struct CLIFailure {
    var status: CLIExitStatus
    var message: String

    init?(_ error: any Error) {
        switch error {
        case let error as CLIError: (status, message) = (error.status, error.description)
        case let error as DroverClientError: (status, message) = (CLIExitStatus(error), error.description)
        case let error as SpecError: (status, message) = (.invalidData, Self.describe(error))
        default: return nil
        }
    }

    /// A spec's errors, all of them, one per line when there are several.
    static func describe(_ error: SpecError) -> String {
        let all = error.all
        guard all.count > 1 else { return "invalid job spec: \(error.field): \(error.message)" }
        return "invalid job spec, \(all.count) errors:\n" + all.map { "  \($0.field): \($0.message)" }.joined(separator: "\n")
    }
}

/// Names a mistyped subcommand and the nearest one, before ArgumentParser answers
/// "2 unexpected arguments" for it. Under a command with a default subcommand (`cost`) a
/// word may be the default's argument, so the check stops there.
enum CommandTypo {
    static func check(_ arguments: [String], root: any ParsableCommand.Type) throws {
        var command: any ParsableCommand.Type = root
        var path = [root._commandName]
        for argument in arguments {
            let configuration = command.configuration
            guard !configuration.subcommands.isEmpty, configuration.defaultSubcommand == nil, !argument.hasPrefix("-"), argument != "help" else { return }
            guard let next = configuration.subcommands.first(where: { names(of: $0).contains(argument) }) else {
                let known = configuration.subcommands.map { $0._commandName }
                throw CLIError("unknown command '\(argument)'\(Suggestion.didYouMean(argument, in: known)) (`\(path.joined(separator: " ")) --help` lists them)")
            }
            command = next
            path.append(next._commandName)
        }
    }

    static func names(of command: any ParsableCommand.Type) -> [String] {
        [command._commandName] + command.configuration.aliases
    }
}

/// Reads a text file, or says why not (`cannot read nope.yaml: no such file`).
func readTextFile(_ path: String) throws(CLIError) -> String {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
        throw CLIError("cannot read \(path): no such file", status: .notFound)
    }
    guard !isDirectory.boolValue else { throw CLIError("cannot read \(path): it is a directory; give a file", status: .notFound) }
    guard FileManager.default.isReadableFile(atPath: path) else { throw CLIError("cannot read \(path): permission denied", status: .refused) }
    guard let data = FileManager.default.contents(atPath: path) else { throw CLIError("cannot read \(path): the read failed", status: .notFound) }
    guard let text = String(data: data, encoding: .utf8) else { throw CLIError("cannot read \(path): it is not UTF-8 text", status: .invalidData) }
    return text
}
