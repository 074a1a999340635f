import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FIELDS, type Filter, parseFilterQuery } from '../../src/filters/index.js';

const LIMITS = { maxListItems: 100 };

function ok(query: string): Filter {
  const r = parseFilterQuery(query, LIMITS);
  assert.ok(r.ok, `expected ${query} to parse, got ${JSON.stringify(r)}`);
  return r.filter;
}

/** Asserts an error on `param` whose detail names it and matches `why`. */
function err(query: string, param: string, why: RegExp): void {
  const r = parseFilterQuery(query, LIMITS);
  assert.ok(!r.ok, `expected ${query} to fail`);
  assert.equal(r.param, param, `${query}: ${r.detail}`);
  assert.ok(r.detail.includes(`'${param}'`), `detail does not name '${param}': ${r.detail}`);
  assert.match(r.detail, why, query);
}

const U1 = '0f8fad5b-d9cb-469f-a165-70867728950e';
const U2 = '7c9e6679-7425-40de-944b-e07fc1f90ae7';

test('empty query gives the empty filter', () => {
  const r = parseFilterQuery('', LIMITS);
  assert.deepEqual(r, { ok: true, filter: {}, accountId: undefined, session: new Map() });
});

test('every parameter of the vocabulary parses in a valid form (its example), alone and all together', () => {
  for (const f of FIELDS) assert.ok(f.name in ok(`${f.name}=${f.example}`), f.name);
  const all = ok(FIELDS.map((f) => `${f.name}=${f.example}`).join('&'));
  assert.deepEqual(
    Object.keys(all),
    FIELDS.map((f) => f.name),
    'keys in table order',
  );
});

test('every bound accepts both ends of its range and nothing past them', () => {
  for (const f of FIELDS) {
    if (f.kind !== 'bound') continue;
    assert.deepEqual(ok(`${f.name}=${f.min}`), { [f.name]: f.min });
    assert.deepEqual(ok(`${f.name}=${f.max}`), { [f.name]: f.max });
    err(`${f.name}=${f.max + 1}`, f.name, new RegExp(`${f.min}\\.\\.${f.max}`));
    err(`${f.name}=${f.min - 1}`, f.name, new RegExp(`${f.min}\\.\\.${f.max}`));
  }
});

test('normalisation: lists de-duplicated, trimmed and sorted; codes to what the event carries', () => {
  assert.deepEqual(ok('sources=b,+a,b,%20c'), { sources: ['a', 'b', 'c'] });
  assert.deepEqual(ok(`handler_ids=${U2},${U1.toUpperCase()},${U1}`), { handler_ids: [U1, U2] });
  assert.deepEqual(ok('ethnic_groups=3,1,2,4,1'), { ethnic_groups: ['african_american', 'asian', 'caucasian', 'indian'] });
  assert.deepEqual(ok('liveness=2,0'), { liveness: ['spoof', 'unknown'] });
  assert.deepEqual(ok('deepfake=0,1'), { deepfake: ['fake', 'real'] });
  assert.deepEqual(ok('masks=3,1'), { masks: ['medical_mask', 'occluded'] });
  assert.deepEqual(ok('emotions=5,4'), { emotions: ['happiness', 'neutral'] });
  assert.deepEqual(ok('apparent_gender=2,0,2'), { apparent_gender: [0, 2] });
  assert.deepEqual(ok('headwear_states=1,0&backpack_states=2'), { headwear_states: [0, 1], backpack_states: [2] });
  assert.deepEqual(ok('gender=1'), { gender: 1 });
  assert.deepEqual(ok('age__lt=50&age__gte=30'), { age__gte: 30, age__lt: 50 });
  assert.deepEqual(ok('object_similarity__gte=0.25'), { object_similarity__gte: 0.25 });
  assert.deepEqual(ok('tags=b,a'), { tags: ['a', 'b'] });
  assert.deepEqual(ok('user_data=+x+'), { user_data: ' x ' }, 'user_data is a substring: not trimmed');
  assert.deepEqual(ok('upper_clothing_colors=red,blue,red'), { upper_clothing_colors: ['blue', 'red'] });
  assert.deepEqual(ok('geo_position=origin_latitude,-10.5,origin_longitude,20'), { geo_position: { lon: 20, lat: -10.5, dlon: 0.01, dlat: 0.01 } });
  assert.deepEqual(ok('geo_position=latitude_delta,90,origin_longitude,-180,longitude_delta,180,origin_latitude,90'), {
    geo_position: { lon: -180, lat: 90, dlon: 180, dlat: 90 },
  });
});

test('percent-decoding, + as a space, encoded names', () => {
  assert.deepEqual(ok('cities=New+York,S%C3%A3o%20Paulo'), { cities: ['New York', 'São Paulo'] });
  assert.deepEqual(ok('streets=a%2Bb'), { streets: ['a+b'] });
  assert.deepEqual(ok('%67ender=1'), { gender: 1 });
  // Decoded before splitting: HTTP clients (Python requests, URLSearchParams) encode `a,b` as `a%2Cb`.
  assert.deepEqual(ok('sources=a%2Cb'), { sources: ['a', 'b'] }, 'an encoded comma still separates items');
  err('sources=a%zz', 'sources', /malformed percent-encoding/);
  err('sources=%', 'sources', /malformed percent-encoding/);
  err('sources=%FF', 'sources', /malformed percent-encoding/);
  err('gen%zzder=1', 'gen%zzder', /malformed percent-encoding/);
});

test('empty segments are ignored', () => {
  assert.deepEqual(ok('&gender=1&&'), { gender: 1 });
});

test('luna_account_id is returned decoded, not validated; duplicate or empty is an error', () => {
  const r = parseFilterQuery('gender=1&luna_account_id=ABC%2D1', LIMITS);
  assert.deepEqual(r, { ok: true, filter: { gender: 1 }, accountId: 'ABC-1', session: new Map([['luna_account_id', 'ABC-1']]) });
  err('luna_account_id=a&luna_account_id=a', 'luna_account_id', /more than once/);
  err('luna_account_id=', 'luna_account_id', /is empty/);
  err('luna_account_id', 'luna_account_id', /is empty/);
});

test('unknown parameters, including prototype names', () => {
  err('gendr=1', 'gendr', /^Unknown query parameter 'gendr'$/);
  err('__proto__=1', '__proto__', /^Unknown query parameter/);
  err('constructor=1', 'constructor', /^Unknown query parameter/);
  err('hasOwnProperty=x', 'hasOwnProperty', /^Unknown query parameter/);
  err('Gender=1', 'Gender', /^Unknown query parameter/);
  err('age=1', 'age', /^Unknown query parameter/);
});

test('duplicate and empty parameters', () => {
  err('gender=1&gender=1', 'gender', /^Query parameter 'gender' is given more than once$/);
  err('sources=a&sources=b', 'sources', /more than once/);
  err('gender=', 'gender', /^Query parameter 'gender' is empty$/);
  err('gender', 'gender', /is empty/);
  err('user_data=', 'user_data', /is empty/);
  err('gender=+', 'gender', /expected one of/);
});

test('list rules: empty item, too many items (as given, before de-duplication)', () => {
  err('sources=a,,b', 'sources', /empty item/);
  err('sources=a,+,b', 'sources', /empty item/);
  err('sources=a,', 'sources', /empty item/);
  err('tags=,a', 'tags', /empty item/);
  const hundred = Array.from({ length: 100 }, () => 'x').join(',');
  assert.deepEqual(ok(`sources=${hundred}`), { sources: ['x'] });
  err(`sources=${hundred},x`, 'sources', /at most 100 items/);
  const r = parseFilterQuery('sources=a,b,c', { maxListItems: 2 });
  assert.ok(!r.ok && r.param === 'sources');
});

test('integers: plain integers only, in range', () => {
  err('age__gte=50.0', 'age__gte', /expected an integer in 0\.\.200, got '50\.0'/);
  err('age__gte=1e1', 'age__gte', /expected an integer/);
  err('age__gte=0x10', 'age__gte', /expected an integer/);
  err('age__gte=-1', 'age__gte', /0\.\.200/);
  err('age__lt=201', 'age__lt', /0\.\.200/);
  err('apparent_age__gte=101', 'apparent_age__gte', /0\.\.100/);
  err('age__gte=abc', 'age__gte', /expected an integer/);
  err('age__gte=%2B5', 'age__gte', /expected an integer/);
  err('gender=1.0', 'gender', /expected one of 0 \(female\), 1 \(male\), got '1\.0'/);
  assert.deepEqual(ok('age__gte=+30'), { age__gte: 30 }, 'a space (from +) around a number is trimmed');
});

test('numbers: plain decimals only, in range', () => {
  assert.deepEqual(ok('object_similarity__lt=1.0'), { object_similarity__lt: 1 });
  for (const bad of ['1e0', 'Infinity', 'NaN', '.5', '5.', '0x1', '1.5', '-0.1']) {
    err(`object_similarity__gte=${bad}`, 'object_similarity__gte', /expected a decimal number in 0\.\.1/);
  }
});

test('ranges: lower bound must be below the upper bound', () => {
  err('age__gte=50&age__lt=30', 'age__lt', /'age__gte' and 'age__lt'.*50.*30/);
  err('age__lt=30&age__gte=30', 'age__gte', /not below/);
  err('apparent_age__gte=10&apparent_age__lt=10', 'apparent_age__lt', /not below/);
  err('object_similarity__gte=0.5&object_similarity__lt=0.50', 'object_similarity__lt', /not below/);
  assert.deepEqual(ok('age__gte=29&age__lt=30'), { age__gte: 29, age__lt: 30 });
});

test('enums: case-sensitive, codes only where the query gives codes', () => {
  err('gender=3', 'gender', /^Bad query parameter 'gender': expected one of 0 \(female\), 1 \(male\), got '3'$/);
  err('gender=male', 'gender', /expected one of/);
  err('liveness=3', 'liveness', /0 \(spoof\), 1 \(real\), 2 \(unknown\)/);
  err('liveness=spoof', 'liveness', /expected one of/);
  err('ethnic_groups=0', 'ethnic_groups', /1 \(african_american\)/);
  err('emotions=8', 'emotions', /7 \(surprise\)/);
  err('masks=0', 'masks', /expected one of/);
  err('deepfake=2', 'deepfake', /expected one of/);
  err('apparent_gender=3', 'apparent_gender', /2 \(undefined\)/);
  err('headwear_states=-1', 'headwear_states', /expected one of/);
  err('backpack_states=x', 'backpack_states', /expected one of/);
  err('headwear_colors=Black', 'headwear_colors', /black, other, white, undefined/);
  err('headwear_colors=blue', 'headwear_colors', /expected items from/);
  err('shoes_colors=red', 'shoes_colors', /expected items from/);
  err('sleeve_lengths=LONG', 'sleeve_lengths', /short, long, undefined/);
  err('lower_garment_types=dress', 'lower_garment_types', /trousers, shorts, skirt, undefined/);
  err('upper_clothing_colors=red,Blue', 'upper_clothing_colors', /got 'Blue'/);
  err('lower_garment_colors=grey', 'lower_garment_colors', /khaki/);
  assert.deepEqual(ok('sources=A,a'), { sources: ['A', 'a'] }, 'free strings are case-sensitive');
});

test('UUIDs: any case accepted and normalised to lower case; anything else rejected', () => {
  err('handler_ids=abc', 'handler_ids', /expected UUIDs/);
  err(`handler_ids=${U1},${U1}0`, 'handler_ids', /expected UUIDs/);
  err(`stream_ids=${U1.replace(/-/g, '')}`, 'stream_ids', /expected UUIDs/);
  err(`stream_ids={${U1}}`, 'stream_ids', /expected UUIDs/);
  err('stream_ids=0f8fad5b-d9cb-469f-a165-70867728950g', 'stream_ids', /expected UUIDs/);
});

test('tags: each at most 36 characters (code points)', () => {
  const t36 = 'x'.repeat(36);
  assert.deepEqual(ok(`tags=${t36}`), { tags: [t36] });
  err(`tags=a,${t36}y`, 'tags', /at most 36 characters/);
  assert.deepEqual(ok(`tags=${encodeURIComponent('é'.repeat(36))}`), { tags: ['é'.repeat(36)] });
});

test('geo_position rules', () => {
  const g = 'geo_position';
  err(`${g}=origin_longitude,10`, g, /origin_latitude is required/);
  err(`${g}=origin_latitude,10`, g, /origin_longitude is required/);
  err(`${g}=origin_longitude,10,origin_latitude`, g, /key,value pairs/);
  err(`${g}=origin_longitude,10,origin_latitude,5,radius,1`, g, /unknown key 'radius'/);
  err(`${g}=origin_longitude,10,origin_latitude,5,origin_longitude,11`, g, /more than once/);
  err(`${g}=origin_longitude,180.5,origin_latitude,5`, g, /origin_longitude.*-180\.\.180/);
  err(`${g}=origin_longitude,10,origin_latitude,-90.01`, g, /origin_latitude.*-90\.\.90/);
  err(`${g}=origin_longitude,10,origin_latitude,5,longitude_delta,0`, g, /longitude_delta.*\(0, 180\]/);
  err(`${g}=origin_longitude,10,origin_latitude,5,longitude_delta,180.1`, g, /\(0, 180\]/);
  err(`${g}=origin_longitude,10,origin_latitude,5,latitude_delta,90.5`, g, /latitude_delta.*\(0, 90\]/);
  err(`${g}=origin_longitude,10,origin_latitude,5,latitude_delta,-1`, g, /\(0, 90\]/);
  err(`${g}=origin_longitude,1e1,origin_latitude,5`, g, /decimal/);
  err(`${g}=origin_longitude,10,,origin_latitude,5`, g, /empty item/);
  err(`${g}=ORIGIN_LONGITUDE,10,origin_latitude,5`, g, /unknown key/);
  assert.deepEqual(ok(`${g}=origin_longitude,+10+,origin_latitude,5`), { geo_position: { lon: 10, lat: 5, dlon: 0.01, dlat: 0.01 } });
});

test('the first bad parameter in the order given is reported', () => {
  err('gender=3&age__gte=x', 'gender', /expected one of/);
  err('age__gte=x&gender=3', 'age__gte', /expected an integer/);
  err('gendr=1&gender=3', 'gendr', /Unknown/);
  err('gender=1&sources=&gender=1', 'sources', /is empty/);
  err('gender=1&gender=3', 'gender', /more than once/);
  err('age__gte=50&age__lt=30&gender=3', 'age__lt', /not below/);
  err('gender=3&luna_account_id=', 'gender', /expected one of/);
});

test('long echoed values are cut in the detail', () => {
  const r = parseFilterQuery(`gender=${'9'.repeat(5000)}`, LIMITS);
  assert.ok(!r.ok && r.detail.length < 300, !r.ok ? r.detail : '');
});
