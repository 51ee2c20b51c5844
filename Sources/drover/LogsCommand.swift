import ArgumentParser
import DroverAPI
import DroverClient
import Foundation

struct LogsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "logs", abstract: "Print a task's output (its latest attempt unless --attempt), or every task's with --task all.",
        discussion: """
            A task's stdout and stderr are captured together, in the order written, as one stream: \
            lines are not marked by which of the two they came from. With --task all each line is \
            prefixed by its task, `[3] …`; without --follow the tasks are printed one after the other.

            EXAMPLES:
              drover logs 12                        task 0's output
              drover logs 12 --task 3 --attempt 1   the first attempt of task 3
              drover logs 12 --task all --follow    every task's lines as they arrive
            """)

    @OptionGroup var client: ClientOptions
    @Argument(help: "The job's id, as submit printed it (e.g. 12).") var id: String
    @Option(help: ArgumentHelp("Which task: its index (0 for the first), or all.", valueName: "N|all")) var task: TaskChoice = .index(0)
    @Option(help: ArgumentHelp("Which attempt of the task, from 1 (default: the latest). Needs one task.", valueName: "N")) var attempt: Int?
    @Flag(help: "Keep printing output as it arrives until the task (or with --task all, every task) ends.") var follow = false

    func run() async throws {
        let api = try client.api()
        switch task {
        case .index(let index):
            var reader = TaskOutputReader(task: index, attempt: attempt)
            while true {
                let read = try await reader.next(api, job: id)
                if let marker = read.newAttempt { FileHandle.standardError.write(Data("--- attempt \(marker) ---\n".utf8)) }
                FileHandle.standardOutput.write(Data(read.data))
                if !read.data.isEmpty { continue }
                if !follow || reader.finished { return }
                try await Task.sleep(for: .milliseconds(500))
            }
        case .all:
            guard attempt == nil else { throw CLIError("--attempt needs one task: give --task N with it, or leave --attempt out for --task all") }
            try await printAll(api, tasks: try await api.jobSummary(id).tasks.total)
        }
    }

    /// Every task's lines, prefixed `[N] `: task after task, or with --follow in turns as they arrive.
    private func printAll(_ api: DroverClient, tasks: Int) async throws {
        var readers = (0..<tasks).map { TaskOutputReader(task: $0, attempt: nil) }
        var lines = (0..<tasks).map { PrefixedLines(prefix: "[\($0)] ") }
        var open = Set(0..<tasks)
        while !open.isEmpty {
            var printed = false
            for index in open.sorted() {
                while true {
                    let read = try await readers[index].next(api, job: id)
                    if let marker = read.newAttempt {
                        emit(lines[index].flush() + ["\(lines[index].prefix)--- attempt \(marker) ---"])
                    }
                    if read.data.isEmpty { break }
                    emit(lines[index].add(read.data))
                    printed = true
                }
                if !follow || readers[index].finished {
                    emit(lines[index].flush())
                    open.remove(index)
                }
            }
            if !open.isEmpty && !printed { try await Task.sleep(for: .milliseconds(500)) }
        }
    }

    private func emit(_ lines: [String]) {
        guard !lines.isEmpty else { return }
        FileHandle.standardOutput.write(Data(lines.map { $0 + "\n" }.joined().utf8))
    }
}

/// `--task N` or `--task all`.
enum TaskChoice: ExpressibleByArgument, Equatable {
    case index(Int)
    case all

    init?(argument: String) {
        if argument == "all" {
            self = .all
        } else if let index = Int(argument), index >= 0 {
            self = .index(index)
        } else {
            return nil
        }
    }

    var defaultValueDescription: String {
        switch self {
        case .index(let index): String(index)
        case .all: "all"
        }
    }
}

/// Reads one task's output forward, starting over when the task is retried.
struct TaskOutputReader {
    let task: Int
    /// One attempt only; nil follows the task's latest.
    let attempt: Int?
    private var offset: Int64 = 0
    /// The attempt being read; 0 while the task has none.
    private var current: Int?
    /// The attempt read has ended and the task will run no other (or the one attempt asked for ended).
    private(set) var finished = false

    init(task: Int, attempt: Int?) {
        (self.task, self.attempt) = (task, attempt)
    }

    /// The next bytes (empty when there are none yet), and the attempt number when reading moved to a new attempt.
    mutating func next(_ api: DroverClient, job: String) async throws -> (data: [UInt8], newAttempt: Int?) {
        var chunk = try await api.logs(job: job, task: task, attempt: attempt, offset: offset)
        var newAttempt: Int?
        if let shown = current, shown > 0, chunk.attempt != shown {
            // The task was retried: start over on the new attempt.
            newAttempt = chunk.attempt
            chunk = try await api.logs(job: job, task: task, attempt: attempt, offset: 0)
        }
        current = chunk.attempt
        offset = chunk.nextOffset
        finished = chunk.data.isEmpty && chunk.attemptFinished && (chunk.taskFinished || attempt != nil)
        return (chunk.data, newAttempt)
    }
}

/// Splits output into whole lines, each given a prefix; a partial line waits for its end.
struct PrefixedLines {
    let prefix: String
    private var partial: [UInt8] = []

    init(prefix: String) { self.prefix = prefix }

    /// The lines `bytes` completes.
    mutating func add(_ bytes: [UInt8]) -> [String] {
        partial += bytes
        guard let last = partial.lastIndex(of: UInt8(ascii: "\n")) else { return [] }
        let whole = partial[..<last]
        partial = Array(partial[(last + 1)...])
        return whole.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).map { prefix + String(decoding: $0, as: UTF8.self) }
    }

    /// The line still without an end, if any.
    mutating func flush() -> [String] {
        defer { partial = [] }
        return partial.isEmpty ? [] : [prefix + String(decoding: partial, as: UTF8.self)]
    }
}
