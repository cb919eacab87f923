import { checkCall, verifyApprovalRequestId, type ApprovalDecision, type MacFn, type ServerToolPolicy } from '@spool/contracts';
import { ApiError, requestServerUrl, type CreateResponseRequest, type InputItem } from '@spool/protocol';
import type { ApprovalStore, ResponseRecord } from '@spool/redis';

export interface ApprovalAnswersDeps {
  approvals: ApprovalStore;
  /** The keyed MAC approval request ids carry (SecretBox.digest, the key every process shares). */
  approvalMac: MacFn;
  /** The configured servers' tool policies by label (allowed_tools, disallowed_tools, require_approval). */
  mcpServerPolicies: Record<string, ServerToolPolicy>;
  /** How long an approval request id stays answerable, and marked used (the retention). */
  validitySeconds: number;
  now: () => number;
}

/** What a create took while matching its answers: given back when the create fails after. */
export interface TakenApprovals {
  claimed: Array<{ holder: string; id: string }>;
  marked: string[];
}

const NOTHING_TAKEN: TakenApprovals = { claimed: [], marked: [] };

/**
 * The `mcp_approval_response` items of a create, matched to their requests and taken exactly once.
 * A parked call is claimed; a stateless one must carry an id Spool minted for this owner, server,
 * tool and arguments (contracts/approval-ids). Either way the id is marked used for the retention,
 * so no path can answer it twice, and an approved call must pass the tool policy of this request
 * and of the configured server. Any refusal gives back what this request had already taken.
 */
export class ApprovalAnswers {
  constructor(private readonly d: ApprovalAnswersDeps) {}

  async resolve(claimant: string, owner: string, request: CreateResponseRequest, input: InputItem[], chain: ResponseRecord[]): Promise<{ decisions: ApprovalDecision[]; taken: TakenApprovals }> {
    const answers = input.flatMap((item, i) => (item.type === 'mcp_approval_response' ? [{ item, i }] : []));
    if (answers.length === 0) return { decisions: [], taken: NOTHING_TAKEN };
    const stored = new Map<string, { holder: string; req: { server_label: string; name: string; arguments: string } }>();
    for (const r of chain) for (const o of r.snapshot.output) if (o.type === 'mcp_approval_request') stored.set(o.id, { holder: r.id, req: o });
    const inline = new Map(input.flatMap((o) => (o.type === 'mcp_approval_request' ? [[o.id, o] as const] : [])));
    const decisions: ApprovalDecision[] = [];
    const taken: TakenApprovals = { claimed: [], marked: [] };
    const seen = new Set<string>();
    const validity = this.d.validitySeconds;
    try {
      for (const { item, i } of answers) {
        const param = `input[${i}].approval_request_id`;
        const id = item.approval_request_id;
        if (seen.has(id)) throw ApiError.badRequest(`Approval request '${id}' is answered more than once in this input.`, param);
        seen.add(id);
        const found = stored.get(id);
        const req = found?.req ?? inline.get(id);
        if (!req) {
          throw ApiError.badRequest(
            `No mcp_approval_request with id '${id}' was found in the previous_response_id chain${request.store === false ? ' or in the input' : ''}.`,
            param,
            'approval_request_not_found',
          );
        }
        const tool = (request.tools ?? []).find((t) => t.type === 'mcp' && t.server_label === req.server_label);
        if (!tool || tool.type !== 'mcp') {
          throw ApiError.badRequest(
            `Approval request '${id}' is for MCP server '${req.server_label}', which is not in this request's tools. Resend the MCP tool (with its credentials) with the approval response.`,
            'tools',
            'approval_server_mismatch',
          );
        }
        const serverUrl = requestServerUrl(tool);
        let call: ApprovalDecision['call'];
        if (found) {
          const claim = await this.d.approvals.claim(found.holder, id, claimant);
          if (claim.kind === 'used') throw ApiError.badRequest(`Approval request '${id}' was already used (by response '${claim.by}').`, param, 'approval_already_used');
          if (claim.kind === 'missing') throw ApiError.badRequest(`Approval request '${id}' has expired.`, param, 'approval_expired');
          taken.claimed.push({ holder: found.holder, id });
          if (claim.parked.serverLabel !== req.server_label) throw ApiError.badRequest(`Approval request '${id}' does not match its server label.`, param, 'approval_server_mismatch');
          const { owner: _o, responseId: _r, ...parked } = claim.parked;
          call = parked;
        } else {
          // Stateless: nothing was parked, so the item itself must prove Spool issued it.
          const check = verifyApprovalRequestId(this.d.approvalMac, id, { owner, serverLabel: req.server_label, name: req.name, arguments: req.arguments });
          if (!check.ok) {
            throw ApiError.badRequest(
              `Approval request '${id}' was not issued by this server for this API key, MCP server, tool and arguments; send back the mcp_approval_request item exactly as it was returned.`,
              param,
              'approval_request_invalid',
            );
          }
          if (this.d.now() - check.issuedAt > validity) throw ApiError.badRequest(`Approval request '${id}' has expired.`, param, 'approval_expired');
          call = { approvalRequestId: id, serverLabel: req.server_label, serverUrl, name: req.name, arguments: req.arguments, retrySafe: check.retrySafe, readOnly: check.readOnly };
        }
        if (item.approve) {
          const verdict = checkCall({ serverLabel: call.serverLabel, tool: { name: call.name, readOnly: call.readOnly }, approved: true }, tool, this.d.mcpServerPolicies[call.serverLabel]);
          if (!verdict.ok) throw ApiError.badRequest(`Approval request '${id}' cannot be approved: ${verdict.message}`, param, 'approval_tool_not_allowed');
        }
        // Whichever path it came by, an approval request id is answered once (checked last, so a
        // refusal above does not use it up).
        const use = await this.d.approvals.markUsed(id, claimant, validity);
        if (use.kind === 'used') throw ApiError.badRequest(`Approval request '${id}' was already used (by response '${use.by}').`, param, 'approval_already_used');
        taken.marked.push(id);
        decisions.push({ approvalRequestId: id, approve: item.approve, reason: item.reason ?? null, call });
      }
    } catch (err) {
      await this.giveBack(claimant, taken);
      throw err;
    }
    return { decisions, taken };
  }

  /** Undoes the claims and use marks of a request that was refused or could not be enqueued. */
  async giveBack(claimant: string, taken: TakenApprovals): Promise<void> {
    for (const c of taken.claimed) await this.d.approvals.release(c.holder, c.id).catch(() => undefined);
    for (const id of taken.marked) await this.d.approvals.unmarkUsed(id, claimant).catch(() => undefined);
  }
}
