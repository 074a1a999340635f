import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { FIELDS } from '../../src/filters/fields.js';
import { type Gateway, startGateway } from '../helpers/gateway.js';
import { ACCOUNT, publish } from '../helpers/http.js';
import { type Client, connect } from '../helpers/ws-client.js';

// The reference example event of the LUNA Sender API, completed with the body fields it lacks
// (lower body, headwear colour, shoes) and a UUID stream id, so that every filter can test it.
const event = JSON.parse(readFileSync(new URL('../../../bench/fixtures/full-event.json', import.meta.url), 'utf8'));
event.stream_id = '8950722f-3fd4-4223-b48f-03f95f0e8dfb';
const body = event.aggregate_estimations.body.attributes;
body.upper_body.headwear.apparent_color = 'white';
body.lower_body = { lower_garment: { type: 'skirt', colors: ['red', 'blue'] }, shoes: { apparent_color: 'other' } };
const HANDLER = '346a5645-ec89-4806-820a-dbcb6e0dc38c';

/** Per filter: a query the event passes, and one it fails. Every filter of SPEC section 4. */
const CASES: Record<string, [pass: string, fail: string]> = {
  handler_ids: [`handler_ids=${HANDLER.toUpperCase()},8950722f-3fd4-4223-b48f-03f95f0e8dfb`, 'handler_ids=8950722f-3fd4-4223-b48f-03f95f0e8dfb'],
  sources: ['sources=cam1,3rd+Avenue', 'sources=3rd+avenue'],
  stream_ids: ['stream_ids=8950722f-3fd4-4223-b48f-03f95f0e8dfb', `stream_ids=${HANDLER}`],
  matching_candidates_labels: ['matching_candidates_labels=vip,bad%20guys', 'matching_candidates_labels=vip'],
  object_similarity__gte: ['object_similarity__gte=0.5', 'object_similarity__gte=0.51'],
  object_similarity__lt: ['object_similarity__lt=0.51', 'object_similarity__lt=0.5'],
  age__gte: ['age__gte=50', 'age__gte=51'],
  age__lt: ['age__lt=51', 'age__lt=50'],
  gender: ['gender=0', 'gender=1'],
  ethnic_groups: ['ethnic_groups=2,4', 'ethnic_groups=1,3'],
  liveness: ['liveness=0,2', 'liveness=1'],
  deepfake: ['deepfake=0', 'deepfake=1'],
  masks: ['masks=1', 'masks=2,3'],
  emotions: ['emotions=7', 'emotions=1,2,3,4,5,6'],
  tags: ['tags=tag2,tag1', 'tags=tag1,tag3'],
  user_data: ['user_data=me%20ev', 'user_data=Some'],
  geo_position: ['geo_position=latitude_delta,0.01,origin_latitude,55.75,origin_longitude,36.61', 'geo_position=origin_longitude,36.6,origin_latitude,55.752'],
  cities: ['cities=Moscow,New-York', 'cities=moscow'],
  areas: ['areas=CAO', 'areas=SAO'],
  districts: ['districts=mitino', 'districts=arbat'],
  streets: ['streets=arbat,schepkina', 'streets=arbat'],
  house_numbers: ['house_numbers=1/2str3', 'house_numbers=1'],
  apparent_gender: ['apparent_gender=0,2', 'apparent_gender=1'],
  apparent_age__gte: ['apparent_age__gte=0', 'apparent_age__gte=1'],
  apparent_age__lt: ['apparent_age__lt=1', 'apparent_age__lt=0'],
  headwear_states: ['headwear_states=0', 'headwear_states=1,2'],
  headwear_colors: ['headwear_colors=white', 'headwear_colors=black'],
  sleeve_lengths: ['sleeve_lengths=short', 'sleeve_lengths=long'],
  upper_clothing_colors: ['upper_clothing_colors=black,red', 'upper_clothing_colors=red'],
  lower_garment_types: ['lower_garment_types=skirt', 'lower_garment_types=trousers,shorts'],
  lower_garment_colors: ['lower_garment_colors=blue', 'lower_garment_colors=black'],
  shoes_colors: ['shoes_colors=other', 'shoes_colors=white'],
  backpack_states: ['backpack_states=0', 'backpack_states=1'],
};

let gw: Gateway;
before(async () => {
  gw = await startGateway();
});
after(() => gw.stop());

test('the case table covers every filter of the vocabulary', () => {
  assert.deepEqual(Object.keys(CASES).sort(), FIELDS.map((f) => f.name).sort());
});

test('every filter end to end: the passing query gets the event, the failing one does not, an event lacking the field passes none', async () => {
  const sub = (q: string) =>
    connect(`ws://127.0.0.1:${gw.port}/1/ws?${q}`, { 'Luna-Account-Id': ACCOUNT }).catch((e: { body?: string }) => {
      throw new Error(`${q}: ${e.body}`);
    });
  const pass = new Map<string, Client>();
  const fail = new Map<string, Client>();
  for (const [name, [p, f]] of Object.entries(CASES)) {
    pass.set(name, await sub(p));
    fail.set(name, await sub(f));
  }
  const all = await sub(''); // no filter: receives everything, marks the end
  const raw = JSON.stringify(event);
  const bodyText = `{"events": [${raw}], "handler_id": "${HANDLER}", "event_create_time": "c", "event_end_time": "e"}`;
  assert.equal((await publish(gw.url, bodyText)).status, 201);
  // Events lacking every tested field (and of another handler) must pass no filter.
  assert.equal(
    (await publish(gw.url, `{"events": [{"empty": true}, {"last": true}], "handler_id": "h", "event_create_time": "c", "event_end_time": "e"}`)).status,
    201,
  );
  await all.waitFor(3);
  // Every subscriber of the account handled the same three events before `all` got the last one;
  // one more round trip through the bus makes sure of it for the others too.
  assert.equal((await publish(gw.url, `{"events": [{"last": 2}], "handler_id": "h", "event_create_time": "c", "event_end_time": "e"}`)).status, 201);
  await all.waitFor(4);
  for (const [name, c] of pass) {
    assert.equal(c.messages.length, 1, `${name}: ${CASES[name][0]} got ${c.messages.length} messages`);
    assert.ok(c.messages[0].startsWith(`{"event": ${raw}, "handler_id": "${HANDLER}"`), name);
  }
  for (const [name, c] of fail) assert.equal(c.messages.length, 0, `${name}: ${CASES[name][1]} got the event`);
  for (const c of [...pass.values(), ...fail.values(), all]) c.close();
});
