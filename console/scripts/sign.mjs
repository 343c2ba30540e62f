// Signs one request exactly as the console does in the browser (src/api.ts: aws4fetch's AwsClient for
// execute-api) and prints what it signed: tests/e2e/test_console_sigv4.py checks it against botocore's SigV4.
// Input (stdin, JSON): {credentials: {accessKeyId, secretAccessKey, sessionToken}, region, datetime, method, url, headers, body}
import { AwsClient } from "aws4fetch";

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const input = JSON.parse(Buffer.concat(chunks).toString("utf8"));
const client = new AwsClient({ ...input.credentials, service: "execute-api", region: input.region, retries: 0 });
const signed = await client.sign(input.url, {
  method: input.method, headers: input.headers, body: input.body ?? undefined, aws: { datetime: input.datetime },
});
process.stdout.write(JSON.stringify({ url: signed.url, method: signed.method, headers: Object.fromEntries(signed.headers) }));
