// The official @google/genai SDK (JavaScript) against the proxy: prints one
// JSON line per call for tests/e2e/test_gemini.py to check.
// Usage: node genai_sdk.mjs <proxy url> <api key> <model> (the SDK from .tools/node, found from $NODE_TOOLS)
import { createRequire } from 'node:module';

const require = createRequire(`${process.env.NODE_TOOLS}/`);
const { GoogleGenAI } = require('@google/genai');

const [url, apiKey, model] = process.argv.slice(2);
const ai = new GoogleGenAI({ apiKey, httpOptions: { baseUrl: url } });
const say = (name, value) => console.log(JSON.stringify({ name, value }));

const whole = await ai.models.generateContent({ model, contents: 'hi' });
say('generate', whole.text);

const weather = { name: 'weather', description: 'Weather now', parametersJsonSchema: { type: 'object', properties: { city: { type: 'string' } } } };
const config = { tools: [{ functionDeclarations: [weather] }] };
const calls = [];
for await (const chunk of await ai.models.generateContentStream({ model, contents: 'Weather in Paris?', config })) {
  calls.push(...(chunk.functionCalls ?? []));
}
say('call', calls.map((c) => ({ name: c.name, args: c.args })));

const contents = [
  { role: 'user', parts: [{ text: 'Weather in Paris?' }] },
  { role: 'model', parts: [{ functionCall: { name: 'weather', args: { city: 'Paris' } } }] },
  { role: 'user', parts: [{ functionResponse: { name: 'weather', response: { temp: 21 } } }] },
];
let text = '';
for await (const chunk of await ai.models.generateContentStream({ model, contents, config })) text += chunk.text ?? '';
say('after the call', text);

const count = await ai.models.countTokens({ model, contents: 'hello there '.repeat(40) });
say('count', count.totalTokens);

const names = [];
for await (const m of await ai.models.list()) names.push(m.name);
say('list', names);
