/**
 * XML as uWSGI reads it (core/xmlconf.c): the root `<uwsgi>` is used directly; any other root
 * is searched for a `<uwsgi>` child, the one with `id="ID"` for `file.xml:ID`. Each child
 * element is an option (tag = name, text = value; an empty element such as `<master/>` is
 * "1"), in document order, so repeated elements are repeated options. With an id asked for,
 * children carrying another `id` are skipped.
 */
import type * as Fxp from 'fast-xml-parser';
import { tsgiError } from '../errors.js';
import { lazyRequire } from './lazy.js';
import { lineAt, type ConfigPair, type LoaderInput } from './pairs.js';

/** fast-xml-parser's ordered form: `{tag: children, ':@': attributes}` or `{'#text': text}`. */
type XmlNode = Record<string, unknown> & { ':@'?: Record<string, string> };

const fxp = lazyRequire<typeof Fxp>('fast-xml-parser');
const PARSER_OPTIONS: Fxp.X2jOptions = {
  preserveOrder: true,
  ignoreAttributes: false,
  attributeNamePrefix: '',
  allowBooleanAttributes: true,
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  ignoreDeclaration: true,
  ignorePiTags: true,
  captureMetaData: true,
};

function tagOf(node: XmlNode): string | undefined {
  return Object.keys(node).find((key) => key !== ':@' && !key.startsWith('#'));
}

function childrenOf(node: XmlNode): XmlNode[] {
  return node[tagOf(node)!] as XmlNode[];
}

function attribute(node: XmlNode, name: string): string | undefined {
  return node[':@']?.[name];
}

export function loadXml({ text, source, section: id }: LoaderInput): ConfigPair[] {
  const { XMLParser, XMLValidator } = fxp();
  const valid = XMLValidator.validate(text, { allowBooleanAttributes: true });
  if (valid !== true) throw tsgiError('TSGI_ERR_CONFIG_SYNTAX', `${source}:${valid.err.line}: xml syntax error: ${valid.err.msg}`);
  const META = XMLParser.getMetaDataSymbol() as unknown as string;
  const roots = (new XMLParser(PARSER_OPTIONS).parse(text) as XmlNode[]).filter((node) => tagOf(node) !== undefined);
  if (roots.length !== 1) throw tsgiError('TSGI_ERR_CONFIG_SYNTAX', `${source}: xml syntax error: expected one root element, found ${roots.length}`);
  const stanza = findStanza(roots[0]!, id, source);
  const pairs: ConfigPair[] = [];
  for (const child of childrenOf(stanza)) {
    const name = tagOf(child);
    if (name === undefined) continue; // text between options
    const childId = attribute(child, 'id');
    if (id !== undefined && childId !== undefined && childId !== id) continue;
    const line = lineAt(text, (child[META] as { startIndex?: number } | undefined)?.startIndex ?? 0);
    pairs.push({ name, value: textOf(child, name, `${source}:${line}`), origin: { source, line } });
  }
  return pairs;
}

function findStanza(root: XmlNode, id: string | undefined, source: string): XmlNode {
  if (tagOf(root) === 'uwsgi') return root;
  const stanzas = childrenOf(root).filter((node) => tagOf(node) === 'uwsgi');
  const found = stanzas.find((node) => id === undefined || attribute(node, 'id') === id);
  if (found) return found;
  const ids = stanzas.map((node) => attribute(node, 'id')).filter((x) => x !== undefined);
  const wanted = id === undefined ? '<uwsgi>' : `<uwsgi id="${id}">`;
  throw tsgiError('TSGI_ERR_CONFIG_SECTION', `${source}: invalid xml root element, ${wanted} expected${ids.length ? ` (ids found: ${ids.join(', ')})` : ''}`);
}

/** The element's text; empty means "1" (a flag written `<master/>`). */
function textOf(node: XmlNode, name: string, at: string): string {
  const children = childrenOf(node);
  if (children.some((child) => tagOf(child) !== undefined)) {
    throw tsgiError('TSGI_ERR_OPT_VALUE', `bad value for --${name} (${at}): <${name}> contains elements; an option holds text only`);
  }
  const text = children.map((child) => String(child['#text'] ?? '')).join('');
  return text === '' ? '1' : text;
}
