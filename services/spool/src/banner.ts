/**
 * The start-up banner's lines for a listening API. The `curl` example must run as printed: with
 * keys configured its header is in double quotes, so the shell expands `$SPOOL_API_KEY` (in
 * single quotes it was sent literally, and every copy-paste was a 401).
 */
export function listeningBanner(url: string, roles: string, hasKeys: boolean): string[] {
  const auth = hasKeys ? ' -H "Authorization: Bearer $SPOOL_API_KEY"' : '';
  return [
    `  Spool is listening on ${url} (roles: ${roles})`,
    `  OpenAI SDK base URL: ${url}/v1 (or ${url}, as LiteLLM clients use it)`,
    '  Try it:',
    `    curl -s ${url}/v1/responses -H 'Content-Type: application/json'${auth} -d '{"model":"demo","input":"Say hello"}'`,
    '',
  ];
}
