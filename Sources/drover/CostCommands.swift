import ArgumentParser
import DroverAPI
import DroverClient
import DroverCore
import Foundation

struct CostCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cost", abstract: "Cost reports over the append-only ledger, its rows, and corrections.",
        discussion: """
            Without a subcommand, `cost` is `cost report`, which takes (see `drover cost report --help`):
              --by team|job|node|day       how to group the spend (default: team)
              --since DATE, --until DATE   a date (2026-11-01, UTC) or an RFC 3339 time
              --team T                     one team only
              --output table|json|csv      csv has exact amounts

            EXAMPLES:
              drover cost --by job --since 2026-11-01
              drover cost --by day --team research --output csv > spend.csv
              drover cost ledger --attempt 345
              drover cost reverse 9001 --reason "node mispriced"
            """,
        subcommands: [Report.self, Ledger.self, Reverse.self], defaultSubcommand: Report.self)

    enum Format: String, ExpressibleByArgument, CaseIterable { case table, json, csv }

    struct Report: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "report", abstract: "Spend by team, job, node or day: succeeded vs. wasted (failed, lost, timed out, preempted, cancelled).",
            discussion: """
                Rows count by when they were booked. --since and --until take a date (2026-11-01, UTC; --until \
                includes that day) or an RFC 3339 time. Amounts are in the rates' currency.

                EXAMPLES:
                  drover cost report --by team
                  drover cost report --by job --since 2026-11-01 --until 2026-11-30
                  drover cost report --by node --since 2026-11-20T08:00:00Z --output json
                """)
        @OptionGroup var client: ClientOptions
        @Option(help: ArgumentHelp("Group spend by team, job, node or day.", valueName: "team|job|node|day")) var by: String = "team"
        @Option(help: ArgumentHelp("From this date or time on, e.g. 2026-11-01.", valueName: "DATE")) var since: String?
        @Option(help: ArgumentHelp("Up to this date (included) or time, e.g. 2026-11-30.", valueName: "DATE")) var until: String?
        @Option(help: "One team only, e.g. research (admins; a team token sees its own team only).") var team: String?
        @Option(help: "table, json or csv (exact amounts).") var output: Format = .table

        func run() async throws {
            let report = try await client.api().cost(by: by, since: since, until: until, team: team)
            switch output {
            case .json: try Output.printJSON(report)
            case .csv: print(CostCommand.csv(report))
            case .table: print(CostCommand.table(report))
            }
        }
    }

    struct Ledger: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Ledger rows, oldest first: what each resource of each attempt cost, at which rate.",
            discussion: """
                EXAMPLES:
                  drover cost ledger --attempt 345
                  drover cost ledger --team research --after 9000 --limit 100
                """)
        @OptionGroup var client: ClientOptions
        @Option(help: "Rows of one attempt, by its id (job show lists them), e.g. 345.") var attempt: String?
        @Option(help: "Rows of one team, e.g. research.") var team: String?
        @Option(help: "Rows after this row id: the last id of the previous page, e.g. 9000.") var after: Int64 = 0
        @Option(help: "At most this many rows, e.g. 100.") var limit: Int = 1000
        @Option(help: "table or json.") var output: OutputFormat = .table

        func run() async throws {
            let rows = try await client.api().ledger(attempt: attempt, team: team, after: after, limit: limit)
            if output == .json { return try Output.printJSON(rows) }
            // Rates and amounts exact (to the micro-unit the ledger keeps), decimals lined up.
            let rates = Output.moneyColumn(rows.map(\.rate), maxPlaces: 6)
            let amounts = Output.moneyColumn(rows.map(\.amount), maxPlaces: 6)
            print(Output.table(["ID", "ATTEMPT", "TEAM", "JOB", "NODE", "RESOURCE", "QUANTITY", "RATE", "AMOUNT", "FROM", "TO", "NOTE"], rows.indices.map { i in
                let r = rows[i]
                return [r.id, r.attemptId, r.team, r.jobId, r.nodeId, r.resource.rawValue, "\(r.quantity)", rates[i], amounts[i], Output.time(r.from), Output.time(r.to),
                        r.reverses.map { "reverses \($0): \(r.note ?? "")" } ?? ""]
            }, rightAligned: [0, 1, 3, 6, 7, 8]))
        }
    }

    struct Reverse: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Correct the ledger (admin): append a row cancelling row ID; nothing is deleted.",
            discussion: """
                EXAMPLES:
                  drover cost reverse 9001 --reason "node n3 was mispriced"
                """)
        @OptionGroup var client: ClientOptions
        @Argument(help: "The ledger row's id, e.g. 9001 (cost ledger lists them).") var id: String
        @Option(help: "Why, for the audit trail, e.g. \"node n3 was mispriced\".") var reason: String

        func run() async throws {
            let row = try await client.api().reverseLedgerEntry(id, reason: reason)
            print("ledger entry \(row.id) reverses entry \(row.reverses ?? id): \(row.amount)")
        }
    }

    static func table(_ report: CostReportView) -> String {
        let keyHeader = report.by.uppercased()
        let named = report.by == "job" || report.by == "node"
        var header = [keyHeader] + (named ? ["NAME"] : []) + (report.by == "job" ? ["TEAM"] : [])
        let firstAmount = header.count
        header += ["SUCCEEDED", "WASTED", "RUNNING", "TOTAL", "ATTEMPTS"]
        let lines = report.lines + [report.total]
        // Each amount column with one number of decimals, the total row included.
        let amounts = [\CostLineView.succeeded, \.wasted, \.running, \.total].map { column in Output.moneyColumn(lines.map { $0[keyPath: column] }) }
        var rows = lines.indices.map { i in
            let l = lines[i]
            return [l.key] + (named ? [l.name ?? "-"] : []) + (report.by == "job" ? [l.team ?? "-"] : [])
                + amounts.map { $0[i] } + [String(l.attempts)]
        }
        rows[rows.count - 1][0] = "TOTAL"
        let window = WireTime.parse(report.since) == 0 ? "everything booked up to \(Output.time(report.until))"
            : "booked \(Output.time(report.since)) to \(Output.time(report.until))"
        return "Cost in \(report.currency), \(window)\n"
            + Output.table(header, rows, rightAligned: Set(firstAmount..<header.count).union(report.by == "job" ? [0] : []))
    }

    /// Exact amounts, one line per group, with a header; fields are quoted when needed.
    static func csv(_ report: CostReportView) -> String {
        func field(_ text: String) -> String {
            text.contains(where: { ",\"\n".contains($0) }) ? "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : text
        }
        let named = report.by == "job" || report.by == "node"
        let header = [report.by] + (named ? ["name"] : []) + (report.by == "job" ? ["team"] : [])
            + ["succeeded", "wasted", "running", "total", "attempts", "currency"]
        var lines = [header.joined(separator: ",")]
        for l in report.lines {
            let cells = [l.key] + (named ? [l.name ?? ""] : []) + (report.by == "job" ? [l.team ?? ""] : [])
                + ["\(l.succeeded)", "\(l.wasted)", "\(l.running)", "\(l.total)", String(l.attempts), report.currency]
            lines.append(cells.map(field).joined(separator: ","))
        }
        return lines.joined(separator: "\n")
    }
}

struct AlertsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "alerts", abstract: "Budget alerts: soft threshold reached, budget exhausted.",
        discussion: """
            EXAMPLES:
              drover alerts
              drover alerts --team research --limit 10
            """)
    @OptionGroup var client: ClientOptions
    @Option(help: "One team's alerts only, e.g. research.") var team: String?
    @Option(help: "At most this many alerts, e.g. 10.") var limit: Int = 100
    @Option(help: "table or json.") var output: OutputFormat = .table

    func run() async throws {
        let alerts = try await client.api().alerts(team: team, limit: limit)
        if output == .json { return try Output.printJSON(alerts) }
        let spent = Output.moneyColumn(alerts.map(\.spent)), budgets = Output.moneyColumn(alerts.map(\.budget))
        print(Output.table(["AT", "TEAM", "LEVEL", "SPENT", "BUDGET", "MESSAGE"], alerts.indices.map { i in
            [Output.time(alerts[i].at), alerts[i].team, alerts[i].level.rawValue, spent[i], budgets[i], alerts[i].message]
        }, rightAligned: [3, 4]))
    }
}
