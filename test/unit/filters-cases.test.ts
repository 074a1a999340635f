import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compileFilter, decodeFacts, encodeFacts, extractFacts, FIELDS, type Filter, interpretFilter } from '../../src/filters/index.js';
import { matches, parse, U1, U2 } from '../helpers/filters.js';

/** The case table: each filter parameter at and past its edges, compiled and interpreted. */

/** Both executions, and the compiled one also on facts that went through msgpack. */
function evaluate(filter: Filter, event: unknown, handlerId: string): { compiled: boolean; viaBytes: boolean; interpreted: boolean } {
  const p = compileFilter(filter);
  const facts = extractFacts(event, handlerId);
  return { compiled: p(facts), viaBytes: p(decodeFacts(encodeFacts(facts))), interpreted: interpretFilter(filter, event, handlerId) };
}

const face = (basic: unknown) => ({ face_attributes: { basic_attributes: basic } });
const faceAttr = (attrs: unknown) => ({ aggregate_estimations: { face: { attributes: attrs } } });
const body = (attrs: unknown) => ({ aggregate_estimations: { body: { attributes: attrs } } });
const geo = (longitude: unknown, latitude: unknown) => ({ location: { geo_position: { longitude, latitude } } });

interface Case {
  query: string;
  event: unknown;
  handlerId?: string;
  expected: boolean;
}

const G = 'geo_position=origin_longitude,179.9,origin_latitude,10,longitude_delta,0.2,latitude_delta,1';
const CASES: Case[] = [
  // empty filter
  { query: '', event: {}, expected: true },
  { query: '', event: null, expected: true },
  // handler_ids
  { query: `handler_ids=${U1},${U2}`, event: {}, handlerId: U2, expected: true },
  { query: `handler_ids=${U1}`, event: {}, handlerId: U1.toUpperCase(), expected: true },
  { query: `handler_ids=${U1.toUpperCase()}`, event: {}, handlerId: U1, expected: true },
  { query: `handler_ids=${U1}`, event: {}, handlerId: U2, expected: false },
  // sources
  { query: 'sources=cam1,cam2', event: { source: 'cam2' }, expected: true },
  { query: 'sources=cam1', event: { source: 'Cam1' }, expected: false },
  { query: 'sources=cam1', event: {}, expected: false },
  { query: 'sources=1', event: { source: 1 }, expected: false },
  { query: 'sources=cam1', event: { source: ['cam1'] }, expected: false },
  // stream_ids
  { query: `stream_ids=${U1}`, event: { stream_id: U1 }, expected: true },
  { query: `stream_ids=${U1}`, event: { stream_id: U2 }, expected: false },
  { query: `stream_ids=${U1}`, event: { stream_id: null }, expected: false },
  // matching_candidates_labels: any of
  { query: 'matching_candidates_labels=vip,staff', event: matches({ label: 'x' }, { label: 'staff' }), expected: true },
  { query: 'matching_candidates_labels=vip', event: matches({ label: 'x' }, { label: 1 }), expected: false },
  { query: 'matching_candidates_labels=vip', event: matches(null, 'vip', ['vip'], { label: 'vip' }), expected: true },
  { query: 'matching_candidates_labels=vip', event: { matches: { label: 'vip' } }, expected: false },
  { query: 'matching_candidates_labels=vip', event: matches(), expected: false },
  // object_similarity: top candidate
  { query: 'object_similarity__gte=0.9', event: matches({ candidates: [{ similarity: 0.5 }] }, { candidates: [{ similarity: 0.9 }] }), expected: true },
  { query: 'object_similarity__gte=0.9', event: matches({ candidates: [{ similarity: 0.8999 }, { similarity: '0.95' }] }), expected: false },
  { query: 'object_similarity__lt=0.9', event: matches({ candidates: [{ similarity: 0.5 }, { similarity: 0.9 }] }), expected: false },
  { query: 'object_similarity__lt=0.9', event: matches({ candidates: [{ similarity: 0.5 }, { similarity: 0.8 }] }), expected: true },
  { query: 'object_similarity__lt=0.9', event: matches({ candidates: [] }), expected: false },
  { query: 'object_similarity__lt=0.9', event: matches({ candidates: [{ similarity: null }] }, { candidates: 'x' }), expected: false },
  { query: 'object_similarity__gte=0&object_similarity__lt=1', event: matches({ candidates: [{ similarity: 0 }] }), expected: true },
  // age: gte inclusive, lt exclusive
  { query: 'age__gte=30&age__lt=50', event: face({ age: 30 }), expected: true },
  { query: 'age__gte=30&age__lt=50', event: face({ age: 49.9 }), expected: true },
  { query: 'age__gte=30&age__lt=50', event: face({ age: 50 }), expected: false },
  { query: 'age__gte=30&age__lt=50', event: face({ age: 29 }), expected: false },
  { query: 'age__gte=30', event: face({ age: '35' }), expected: false },
  { query: 'age__gte=30', event: face({}), expected: false },
  { query: 'age__lt=30', event: {}, expected: false },
  { query: 'age__lt=30', event: { face_attributes: [] }, expected: false },
  // gender: the number is compared
  { query: 'gender=1', event: face({ gender: 1 }), expected: true },
  { query: 'gender=0', event: face({ gender: 1 }), expected: false },
  { query: 'gender=1', event: face({ gender: '1' }), expected: false },
  { query: 'gender=1', event: face({ gender: true }), expected: false },
  { query: 'gender=0', event: face({ gender: null }), expected: false },
  // ethnic_groups: codes in the query, names in the event
  { query: 'ethnic_groups=2,3', event: face({ ethnicities: { predominant_ethnicity: 'asian' } }), expected: true },
  { query: 'ethnic_groups=2', event: face({ ethnicities: { predominant_ethnicity: 2 } }), expected: false },
  { query: 'ethnic_groups=2', event: face({ ethnicities: { predominant_ethnicity: 'Asian' } }), expected: false },
  // face estimations
  { query: 'liveness=0,2', event: faceAttr({ liveness: { prediction: 'spoof' } }), expected: true },
  { query: 'liveness=0', event: faceAttr({ liveness: { prediction: 0 } }), expected: false },
  { query: 'liveness=1', event: faceAttr({ liveness: { prediction: 'spoof' } }), expected: false },
  { query: 'deepfake=0', event: faceAttr({ deepfake: { prediction: 'fake' } }), expected: true },
  { query: 'deepfake=0', event: faceAttr({ deepfake: {} }), expected: false },
  { query: 'masks=1,3', event: faceAttr({ mask: { predominant_mask: 'occluded' } }), expected: true },
  { query: 'masks=2', event: faceAttr({ mask: { predominant_mask: 'medical_mask' } }), expected: false },
  { query: 'emotions=4', event: faceAttr({ emotions: { predominant_emotion: 'happiness' } }), expected: true },
  { query: 'emotions=4', event: faceAttr({ emotions: { predominant_emotion: { name: 'happiness' } } }), expected: false },
  // tags: all of
  { query: 'tags=a,b', event: { tags: ['c', 'b', 'a'] }, expected: true },
  { query: 'tags=a,b', event: { tags: ['a'] }, expected: false },
  { query: 'tags=a', event: { tags: 'a' }, expected: false },
  { query: 'tags=1', event: { tags: [1] }, expected: false },
  { query: 'tags=a,b,c,d,e,f', event: { tags: ['f', 'e', 'd', 'c', 'b', 'a', 'z'] }, expected: true },
  { query: 'tags=a,b,c,d,e,f', event: { tags: ['f', 'e', 'd', 'c', 'b'] }, expected: false },
  // user_data: substring
  { query: 'user_data=cd', event: { user_data: 'abcd' }, expected: true },
  { query: 'user_data=cd', event: { user_data: 'abCd' }, expected: false },
  { query: 'user_data=1', event: { user_data: 12 }, expected: false },
  { query: 'user_data=a+b', event: { user_data: 'xa by' }, expected: true },
  // geo: box, wrap at ±180
  { query: G, event: geo(179.9, 10), expected: true },
  { query: G, event: geo(-179.9, 10.99), expected: true },
  { query: G, event: geo(-179.85, 10), expected: false },
  { query: G, event: geo(180, 9), expected: true },
  { query: G, event: geo(179.9, 11.5), expected: false },
  { query: G, event: geo('179.9', 10), expected: false },
  { query: G, event: geo(179.9, undefined), expected: false },
  { query: G, event: { location: { geo_position: [179.9, 10] } }, expected: false },
  { query: 'geo_position=origin_longitude,-180,origin_latitude,0,longitude_delta,0.5,latitude_delta,0.5', event: geo(179.75, 0.5), expected: true },
  { query: 'geo_position=origin_longitude,0,origin_latitude,0', event: geo(0.01, -0.01), expected: true },
  { query: 'geo_position=origin_longitude,0,origin_latitude,0', event: geo(0.02, 0), expected: false },
  { query: 'geo_position=origin_longitude,0,origin_latitude,0,longitude_delta,180,latitude_delta,90', event: geo(-180, -90), expected: true },
  // location strings
  {
    query: 'cities=Moscow&areas=A&districts=D&streets=S&house_numbers=1a',
    event: { location: { city: 'Moscow', area: 'A', district: 'D', street: 'S', house_number: '1a' } },
    expected: true,
  },
  { query: 'cities=Moscow&house_numbers=1', event: { location: { city: 'Moscow', house_number: 1 } }, expected: false },
  // body
  { query: 'apparent_gender=0,2', event: body({ basic_attributes: { apparent_gender: 2 } }), expected: true },
  { query: 'apparent_gender=1', event: body({ basic_attributes: { apparent_gender: 'male' } }), expected: false },
  { query: 'apparent_age__gte=10&apparent_age__lt=20', event: body({ basic_attributes: { apparent_age: 10 } }), expected: true },
  { query: 'apparent_age__gte=10&apparent_age__lt=20', event: body({ basic_attributes: { apparent_age: 20 } }), expected: false },
  { query: 'headwear_states=1', event: body({ upper_body: { headwear: { state: 1 } } }), expected: true },
  { query: 'headwear_states=1', event: body({ upper_body: { headwear: { state: 'present' } } }), expected: false },
  { query: 'headwear_colors=black', event: body({ upper_body: { headwear: { apparent_color: 'black' } } }), expected: true },
  { query: 'sleeve_lengths=short', event: body({ upper_body: { sleeve: { length: 'long' } } }), expected: false },
  { query: 'upper_clothing_colors=red,blue', event: body({ upper_body: { upper_clothing: { colors: ['white', 'blue'] } } }), expected: true },
  { query: 'upper_clothing_colors=red', event: body({ upper_body: { upper_clothing: { colors: ['white'] } } }), expected: false },
  { query: 'upper_clothing_colors=red', event: body({ upper_body: { upper_clothing: { colors: 'red' } } }), expected: false },
  {
    query: 'lower_garment_colors=black,blue,green,gray,orange,purple',
    event: body({ lower_body: { lower_garment: { colors: [null, 'purple'] } } }),
    expected: true,
  },
  { query: 'lower_garment_colors=black,blue,green,gray,orange', event: body({ lower_body: { lower_garment: { colors: [] } } }), expected: false },
  { query: 'lower_garment_types=skirt', event: body({ lower_body: { lower_garment: { type: 'skirt' } } }), expected: true },
  { query: 'shoes_colors=white', event: body({ lower_body: { shoes: { apparent_color: 'white' } } }), expected: true },
  { query: 'backpack_states=0,2', event: body({ accessories: { backpack: { state: 0 } } }), expected: true },
  { query: 'backpack_states=0,2', event: body({ accessories: { backpack: { state: 1 } } }), expected: false },
  // AND of several
  { query: 'gender=1&age__gte=30&sources=c', event: { ...face({ gender: 1, age: 31 }), source: 'c' }, expected: true },
  { query: 'gender=1&age__gte=30&sources=c', event: { ...face({ gender: 1, age: 31 }), source: 'd' }, expected: false },
  // hostile shapes
  { query: 'sources=x', event: JSON.parse('{"__proto__": {"source": "x"}}'), expected: false },
  { query: 'age__gte=0', event: JSON.parse('{"face_attributes": {"__proto__": {"basic_attributes": {"age": 5}}}}'), expected: false },
  { query: 'sources=x', event: 'x', expected: false },
  { query: 'sources=x', event: [{ source: 'x' }], expected: false },
];

test('case table: compiled (on facts and on facts through msgpack) and interpreter agree with the expectation', () => {
  for (const c of CASES) {
    const got = evaluate(parse(c.query), c.event, c.handlerId ?? U1);
    const want = { compiled: c.expected, viaBytes: c.expected, interpreted: c.expected };
    assert.deepEqual(got, want, `${c.query} on ${JSON.stringify(c.event)}`);
  }
});

test('every parameter of the vocabulary is covered by the case table', () => {
  const covered = new Set(CASES.flatMap((c) => Object.keys(parse(c.query))));
  for (const f of FIELDS) assert.ok(covered.has(f.name), f.name);
});
