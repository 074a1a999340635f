/**
 * Server-driven content negotiation (RFC 9110 section 12.5.1). For each offered type the most
 * specific matching media range decides its q-value (exact > type/* > *\/*); the offered type with
 * the highest q wins, ties going to the server's order of preference. q=0 means "not acceptable".
 * Malformed ranges are ignored, so an Accept header made only of garbage accepts nothing.
 * `aliases` maps synonyms (application/yaml) onto an offered type (application/x-yaml).
 */
interface Range {
  type: string;
  subtype: string;
  q: number;
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

function parseRanges(header: string): Range[] {
  const ranges: Range[] = [];
  for (const part of header.split(',')) {
    const [mediaRaw, ...params] = part.split(';');
    const media = mediaRaw.trim().toLowerCase();
    const slash = media.indexOf('/');
    if (slash <= 0) continue;
    const type = media.slice(0, slash);
    const subtype = media.slice(slash + 1);
    if (!TOKEN.test(type) || !TOKEN.test(subtype) || (type === '*' && subtype !== '*')) continue;
    let q = 1;
    let valid = true;
    for (const p of params) {
      const [k, v] = p.split('=').map((s) => s.trim());
      if (k.toLowerCase() !== 'q') continue;
      if (v === undefined || !/^(0(\.[0-9]{0,3})?|1(\.0{0,3})?)$/.test(v)) valid = false;
      else q = Number(v);
    }
    if (valid) ranges.push({ type, subtype, q });
  }
  return ranges;
}

function specificity(r: Range, type: string, subtype: string): number {
  if (r.type === type && r.subtype === subtype) return 3;
  if (r.type === type && r.subtype === '*') return 2;
  if (r.type === '*' && r.subtype === '*') return 1;
  return 0;
}

export function negotiate(header: string, offered: readonly string[], aliases: Readonly<Record<string, string>> = {}): string | undefined {
  const ranges = parseRanges(header).map((r) => {
    const full = aliases[`${r.type}/${r.subtype}`];
    if (full === undefined) return r;
    const [type, subtype] = full.split('/');
    return { type, subtype, q: r.q };
  });
  let best: string | undefined;
  let bestQ = 0;
  for (const offer of offered) {
    const [type, subtype] = offer.split('/');
    let q = -1;
    let spec = 0;
    for (const r of ranges) {
      const s = specificity(r, type, subtype);
      if (s > spec) {
        spec = s;
        q = r.q;
      }
    }
    if (q > bestQ) {
      bestQ = q;
      best = offer;
    }
  }
  return best;
}
