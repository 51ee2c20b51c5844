// embed-openapi INPUT OUTPUT: writes OUTPUT, a Swift file declaring `OpenAPIDocument.json`,
// a string literal whose UTF-8 is INPUT byte for byte. Run by the EmbedOpenAPI plugin.
import Foundation

let arguments = CommandLine.arguments
guard arguments.count == 3 else {
    FileHandle.standardError.write(Data("usage: embed-openapi INPUT OUTPUT\n".utf8))
    exit(2)
}
guard let bytes = FileManager.default.contents(atPath: arguments[1]) else {
    FileHandle.standardError.write(Data("embed-openapi: cannot read \(arguments[1])\n".utf8))
    exit(1)
}
// (String(validating:) would need macOS 15; the package supports 14.)
let text = String(decoding: bytes, as: UTF8.self)
guard Array(text.utf8) == Array(bytes) else {
    FileHandle.standardError.write(Data("embed-openapi: \(arguments[1]) is not UTF-8\n".utf8))
    exit(1)
}
// One escaped literal on one line: a multiline literal would turn CRLF into LF, and
// concatenating one literal per line would make the type checker work hard.
var literal = "\""
for scalar in text.unicodeScalars {
    switch scalar {
    case "\\": literal += "\\\\"
    case "\"": literal += "\\\""
    case "\n": literal += "\\n"
    case "\r": literal += "\\r"
    case "\t": literal += "\\t"
    case _ where scalar.value < 0x20 || scalar.value == 0x7F:
        literal += "\\u{\(String(scalar.value, radix: 16))}"
    default: literal.unicodeScalars.append(scalar)
    }
}
literal += "\""
let source = """
    // Generated at build time by Plugins/EmbedOpenAPI from \(URL(fileURLWithPath: arguments[1]).lastPathComponent); do not edit.
    extension OpenAPIDocument {
        /// The document's text, byte for byte.
        static let json = \(literal)
    }

    """
do {
    try Data(source.utf8).write(to: URL(fileURLWithPath: arguments[2]), options: .atomic)
} catch {
    FileHandle.standardError.write(Data("embed-openapi: cannot write \(arguments[2]): \(error)\n".utf8))
    exit(1)
}
