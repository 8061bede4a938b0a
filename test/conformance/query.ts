import { operationOf, type ServiceModel } from './model.ts';

/**
 * The awsQuery protocol's XML (STS), read into the JSON form the model checker knows, guided by the model: a
 * structure's members are its child elements by member name, a list's items are its `<member>` children, numbers and
 * booleans are parsed, and a timestamp must be ISO-8601 (the awsQuery default format) and becomes epoch seconds.
 * Only what the STS responses use: elements and text, no attributes but the root's `xmlns`, no mixed content.
 */

/** One XML element: its name, child elements in order and text (entities decoded). */
export interface XmlElement {
  readonly name: string;
  readonly children: XmlElement[];
  text: string;
}

function decode(text: string): string {
  return text
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, '&');
}

/**
 * Parses an XML document into its root element.
 * @throws Error when a closing tag does not match or the document is not one element.
 */
export function parseXml(xml: string): XmlElement {
  const root: XmlElement = { name: '#document', children: [], text: '' };
  const stack: XmlElement[] = [root];
  const tokens = /<\?[^>]*\?>|<\/([\w:.-]+)\s*>|<([\w:.-]+)(?:\s[^>]*?)?(\/?)>|([^<]+)/g;
  for (const m of xml.matchAll(tokens)) {
    const top = stack[stack.length - 1];
    if (!top) throw new Error('XML: unbalanced document');
    if (m[1] !== undefined) {
      if (top.name !== m[1]) throw new Error(`XML: </${m[1]}> closes <${top.name}>`);
      stack.pop();
    } else if (m[2] !== undefined) {
      const element: XmlElement = { name: m[2], children: [], text: '' };
      top.children.push(element);
      if (m[3] !== '/') stack.push(element);
    } else if (m[4] !== undefined) {
      top.text += decode(m[4]);
    }
  }
  const [only] = root.children;
  if (stack.length !== 1 || root.children.length !== 1 || !only) throw new Error('XML: not a single root element');
  return only;
}

function toValue(model: ServiceModel, shapeName: string, element: XmlElement, out: string[], path: string): unknown {
  const shape = model.shapes[shapeName];
  if (!shape) throw new Error(`no shape ${shapeName}`);
  switch (shape.type) {
    case 'structure': {
      const value: Record<string, unknown> = {};
      for (const child of element.children) {
        const member = shape.members?.[child.name];
        // An element the model does not know is kept as a string, so the checker reports it.
        value[child.name] = member ? toValue(model, member.shape, child, out, `${path}.${child.name}`) : child.text;
      }
      return value;
    }
    case 'list':
      return element.children
        .filter((c) => c.name === 'member')
        .map((c, i) => toValue(model, shape.member?.shape ?? '', c, out, `${path}[${i}]`));
    case 'integer':
    case 'long':
    case 'double':
    case 'float':
      return Number(element.text);
    case 'boolean':
      return element.text === 'true' ? true : element.text === 'false' ? false : element.text;
    case 'timestamp': {
      if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/.test(element.text)) {
        out.push(`${path}: ${element.text} is not an ISO-8601 UTC timestamp (awsQuery timestamp format)`);
      }
      return Date.parse(element.text) / 1000;
    }
    default:
      return element.text;
  }
}

/**
 * Reads an awsQuery success response `<OpResponse><OpResult>...</OpResult><ResponseMetadata/></OpResponse>` into the
 * JSON form of the operation's output shape.
 * @returns the value and the violations of the XML form itself (wrong root or result element, timestamp format).
 */
export function queryOutput(
  model: ServiceModel,
  operation: string,
  xml: string,
): { value: Record<string, unknown>; problems: string[] } {
  const op = operationOf(model, operation) as { output?: { shape: string; resultWrapper?: string } };
  const problems: string[] = [];
  const root = parseXml(xml);
  if (root.name !== `${operation}Response`) problems.push(`root element ${root.name}, expected ${operation}Response`);
  const wrapper = op.output?.resultWrapper ?? `${operation}Result`;
  const result = root.children.find((c) => c.name === wrapper);
  if (!result) return { value: {}, problems: [...problems, `no <${wrapper}> element`] };
  if (!root.children.some((c) => c.name === 'ResponseMetadata')) problems.push('no <ResponseMetadata> element');
  const value = toValue(model, op.output?.shape ?? '', result, problems, '$') as Record<string, unknown>;
  return { value, problems };
}

/**
 * Reads an awsQuery error response `<ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/></ErrorResponse>`.
 * @returns its Type, Code and Message, or undefined when the document is not that form.
 */
export function queryError(xml: string): { type: string; code: string; message: string } | undefined {
  const root = parseXml(xml);
  const error = root.children.find((c) => c.name === 'Error');
  if (root.name !== 'ErrorResponse' || !error || !root.children.some((c) => c.name === 'RequestId')) return undefined;
  const field = (name: string) => error.children.find((c) => c.name === name)?.text ?? '';
  return { type: field('Type'), code: field('Code'), message: field('Message') };
}
