import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compileFilter, extractFacts, filterKey, filterTopic } from '../../src/filters/index.js';
import { matches, parse, U1, U2 } from '../helpers/filters.js';

/** Canonical filter keys, and query text that tries to become code in the emitted predicate. */

const k = (q: string) => filterKey(parse(q));

test('filter keys: equal filters in any order give equal keys, different filters different keys', () => {
  assert.equal(k('gender=1&age__gte=30&sources=b,a,a'), k('sources=a,b&age__gte=30&gender=1'));
  assert.equal(k(`handler_ids=${U1.toUpperCase()},${U2}`), k(`handler_ids=${U2},${U1}`));
  assert.equal(k('ethnic_groups=2,1'), k('ethnic_groups=1,2,2'));
  assert.equal(k('object_similarity__gte=0.50'), k('object_similarity__gte=0.5'));
  assert.equal(k('geo_position=origin_latitude,1,origin_longitude,2'), k('geo_position=origin_longitude,2.0,origin_latitude,1,latitude_delta,0.01'));
  const distinct = ['', 'gender=1', 'gender=0', 'sources=a', 'cities=a', 'sources=a,b', 'age__gte=1', 'age__lt=1', 'tags=a', 'user_data=a'];
  assert.equal(new Set(distinct.map(k)).size, distinct.length);
  assert.equal(filterKey({ sources: ['b', 'a'] }), filterKey({ sources: ['a', 'b', 'a'] }), 'hand-built filters key right too');
  const t = filterTopic(U1, k('gender=1'));
  assert.equal(t, filterTopic(U1, k('gender=1')));
  assert.notEqual(t, filterTopic(U2, k('gender=1')));
  assert.notEqual(t, filterTopic(U1, k('gender=0')));
  assert.ok(t.length <= U1.length + 1 + 27, t);
});

// biome-ignore lint/suspicious/noTemplateCurlyInString: the literal '${}' in the name is what is tested
test('query text cannot change the generated code: quotes, backslashes, </script>, ${} only match themselves', () => {
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a literal '${1}' is one of the injection attempts
  const nasty = ['"', "'", '\\', '\\"', '`', '${1}', '</script>', '"); return true; ("', "'+(()=>true)()+'", 'a\u2028b', 'a\u2029b', '*/', '/*', '\\u0041'];
  for (const s of nasty) {
    for (const param of ['sources', 'user_data', 'tags', 'matching_candidates_labels']) {
      const padded = param === 'user_data' ? s : [s, 'p1', 'p2', 'p3', 'p4'].join(','); // 5 items: the Set path
      for (const value of [s, padded]) {
        if (param === 'user_data' && value !== s) continue;
        const f = parse(`${param}=${encodeURIComponent(value)}`);
        const p = compileFilter(f);
        const ev = (x: unknown) =>
          param === 'sources'
            ? { source: x }
            : param === 'user_data'
              ? { user_data: x }
              : param === 'tags'
                ? { tags: [x, 'p1', 'p2', 'p3', 'p4'] } // all of the given tags
                : matches({ label: x });
        assert.equal(p(extractFacts(ev(s), U1)), true, `${param}=${JSON.stringify(value)} matches its literal`);
        assert.equal(p(extractFacts(ev('A'), U1)), false, `${param}=${JSON.stringify(value)} matches nothing else`);
        assert.equal(p(extractFacts({}, U1)), false);
      }
    }
  }
});
