import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { InputRouter, isValidTopicFilter, topicMatches } from '../../../agent/adapters/mqtt/topic-match.js';
import { resolveInputSpecs } from '../../../agent/adapters/mqtt/input-presets.js';

describe('topicMatches', () => {
  const cases: Array<[string, string, boolean]> = [
    ['zigbee2mqtt/room204/trv', 'zigbee2mqtt/room204/trv', true],
    ['zigbee2mqtt/room204/trv', 'zigbee2mqtt/room204/trv/set', false],
    ['zigbee2mqtt/room204/trv', 'zigbee2mqtt/room204', false],
    ['zigbee2mqtt/room204/trv', 'Zigbee2mqtt/room204/trv', false],
    ['a/+/c', 'a/b/c', true],
    ['a/+/c', 'a//c', true],
    ['a/+/c', 'a/b/x/c', false],
    ['a/+', 'a/b', true],
    ['a/+', 'a', false],
    ['a/+', 'a/', true],
    ['+/+', '/x', true],
    ['+', 'a', true],
    ['+', 'a/b', false],
    ['a/#', 'a', true],
    ['a/#', 'a/b', true],
    ['a/#', 'a/b/c/d', true],
    ['a/#', 'ab', false],
    ['#', 'a/b', true],
    ['#', '/', true],
    ['a/+/#', 'a/b', true],
    ['a/+/#', 'a', false],
    ['+/status/switch:0', 'shellyplusplugs-a8032ab1/status/switch:0', true],
    ['#', '$SYS/broker/uptime', false],
    ['+/broker/uptime', '$SYS/broker/uptime', false],
    ['$SYS/#', '$SYS/broker/uptime', true],
    // invalid filters or topic names match nothing
    ['a/#/b', 'a/x/b', false],
    ['a/b#', 'a/b#', false],
    ['a+/b', 'a+/b', false],
    ['', '', false],
    ['a/+', 'a/+', false],
    ['a/#', 'a/#', false],
    ['a', 'a\u0000', false],
  ];
  for (const [filter, topic, expected] of cases) {
    it(`${JSON.stringify(filter)} ~ ${JSON.stringify(topic)} → ${expected}`, () => {
      assert.equal(topicMatches(filter, topic), expected);
    });
  }
});

describe('isValidTopicFilter', () => {
  const cases: Array<[string, boolean]> = [
    ['a/b', true], ['a/+/b', true], ['a/#', true], ['#', true], ['+', true], ['/', true],
    ['', false], ['a/#/b', false], ['a#', false], ['a/b+', false], ['$share/g/a', false], ['a\u0000b', false],
  ];
  for (const [filter, expected] of cases) {
    it(`${JSON.stringify(filter)} → ${expected}`, () => assert.equal(isValidTopicFilter(filter), expected));
  }
});

describe('InputRouter', () => {
  const specs = resolveInputSpecs({
    room_temperature: { preset: 'z2m', device: 'room204/trv' },
    setpoint: { preset: 'z2m', device: 'room204/trv' },
    outdoor_temperature: { topic: 'weather/+/temp_c', max_age_s: 7200 },
    wall_power: { preset: 'shelly_gen2', device: 'shellyplusplugs-a8032ab1' },
    window_open: { topic: 'zigbee2mqtt/room204/window', path: 'contact', invert: true },
  });
  const router = new InputRouter(specs);

  const cases: Array<[string, string[]]> = [
    ['zigbee2mqtt/room204/trv', ['room_temperature', 'setpoint']],
    ['weather/lyon/temp_c', ['outdoor_temperature']],
    ['weather/lyon/paris/temp_c', []],
    ['shellyplusplugs-a8032ab1/status/switch:0', ['wall_power']],
    ['zigbee2mqtt/room204/window', ['window_open']],
    ['zigbee2mqtt/room204/trv/availability', []],
    ['zigbee2mqtt/room204', []],
    ['zigbee2mqtt/+', []],
  ];
  for (const [topic, names] of cases) {
    it(`${topic} → [${names.join(', ')}]`, () => {
      assert.deepEqual(router.route(topic).map((s) => s.name), names);
    });
  }

  it('returns the specs themselves', () => {
    const [room] = router.route('zigbee2mqtt/room204/trv');
    assert.equal(room, specs[0]);
  });

  it('lists each subscription once', () => {
    assert.deepEqual(router.subscriptions(), [
      'zigbee2mqtt/room204/trv',
      'weather/+/temp_c',
      'shellyplusplugs-a8032ab1/status/switch:0',
      'zigbee2mqtt/room204/window',
    ]);
  });

  it('an empty router routes nothing', () => {
    assert.deepEqual(new InputRouter([]).route('a'), []);
  });
});
