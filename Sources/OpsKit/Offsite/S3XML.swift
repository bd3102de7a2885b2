// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif

/// S3 answers in small XML documents (listings, multipart replies, errors). They are read into
/// a plain element tree with Foundation's XMLParser; no namespaces or attributes are needed.
final class S3XMLElement: @unchecked Sendable {
    let name: String
    var text = ""
    var children: [S3XMLElement] = []

    init(name: String) { self.name = name }

    func child(_ name: String) -> S3XMLElement? { children.first { $0.name == name } }
    func children(_ name: String) -> [S3XMLElement] { children.filter { $0.name == name } }
    /// The trimmed text of a direct child.
    func value(_ name: String) -> String? { child(name).map { $0.text.trimmingCharacters(in: .whitespacesAndNewlines) } }

    /// The root element, or nil when the data is not well-formed XML.
    static func parse(_ data: Data) -> S3XMLElement? {
        let builder = TreeBuilder()
        let parser = XMLParser(data: data)
        parser.delegate = builder
        guard parser.parse() else { return nil }
        return builder.root
    }

    /// A `<Code>`/`<Message>` error document (S3 may send one with status 200, e.g. on CompleteMultipartUpload).
    static func error(in data: Data) -> (code: String, message: String)? {
        guard let root = parse(data), root.name == "Error", let code = root.value("Code") else { return nil }
        return (code, root.value("Message") ?? "")
    }
}

private final class TreeBuilder: NSObject, XMLParserDelegate {
    var root: S3XMLElement?
    var stack: [S3XMLElement] = []

    func parser(_ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?, qualifiedName: String?,
                attributes: [String: String] = [:]) {
        let element = S3XMLElement(name: elementName)
        if let parent = stack.last { parent.children.append(element) } else { root = element }
        stack.append(element)
    }

    func parser(_ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName: String?) {
        _ = stack.popLast()
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) {
        stack.last?.text += string
    }
}
