/** Request fixtures of the Open Responses compliance suite, shared by the suites that replay it. */

/** The suite's default `--model`. */
export const COMPLIANCE_MODEL = 'gpt-4o-mini';

export const WEATHER_TOOL = {
  type: 'function',
  name: 'get_weather',
  description: 'Get the current weather for a location',
  parameters: {
    type: 'object',
    properties: {
      location: { type: 'string', description: 'The city and state, e.g. San Francisco, CA' },
    },
    required: ['location'],
  },
};
