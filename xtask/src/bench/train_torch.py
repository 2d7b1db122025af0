# The PyTorch baseline of `cargo xtask bench train`: the same Qwen3-style decoder as sera-train's
# (tied embeddings, RMSNorm, q/k norms, RoPE, causal attention, SwiGLU), the same AdamW with
# gradient clipping, the same batch of random bytes with every position trained, float32 on the
# CPU. Usage: python3 train_torch.py CONFIG_JSON STEPS ROWS LEN THREADS. Prints one JSON line.
import json, math, resource, sys, time

import torch
import torch.nn.functional as F

cfg = json.loads(sys.argv[1])
steps, rows, length, threads = (int(a) for a in sys.argv[2:6])
torch.set_num_threads(threads)
torch.manual_seed(0)
m, t = cfg["model"], cfg["train"]
V, W, L, H, FF = m["vocab_size"], m["width"], m["layers"], m["heads"], m["mlp_hidden"]
DH, EPS = W // H, m["norm_eps"]


class RMSNorm(torch.nn.Module):
    def __init__(self, n):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(n))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + EPS) * self.weight


def rope_tables(n):
    inv = m["rope_theta"] ** (-torch.arange(0, DH, 2, dtype=torch.float64) / DH)
    ang = torch.arange(n, dtype=torch.float64)[:, None] * inv[None, :]
    ang = torch.cat([ang, ang], dim=-1)
    return ang.cos().float(), ang.sin().float()


def rotate_half(x):
    a, b = x[..., : DH // 2], x[..., DH // 2 :]
    return torch.cat([-b, a], dim=-1)


class Block(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.attn_norm, self.mlp_norm = RMSNorm(W), RMSNorm(W)
        self.q_norm, self.k_norm = RMSNorm(DH), RMSNorm(DH)
        self.wq, self.wk, self.wv, self.wo = (torch.nn.Linear(W, W, bias=False) for _ in range(4))
        self.gate, self.up = torch.nn.Linear(W, FF, bias=False), torch.nn.Linear(W, FF, bias=False)
        self.down = torch.nn.Linear(FF, W, bias=False)

    def forward(self, x, cos, sin, mask):
        b, s, _ = x.shape
        h = self.attn_norm(x)
        q = self.q_norm(self.wq(h).view(b, s, H, DH))
        k = self.k_norm(self.wk(h).view(b, s, H, DH))
        v = self.wv(h).view(b, s, H, DH)
        q = q * cos[:, None, :] + rotate_half(q) * sin[:, None, :]
        k = k * cos[:, None, :] + rotate_half(k) * sin[:, None, :]
        q, k, v = (z.transpose(1, 2) for z in (q, k, v))
        scores = q @ k.transpose(-1, -2) / math.sqrt(DH) + mask
        a = (scores.softmax(-1) @ v).transpose(1, 2).reshape(b, s, W)
        x = x + self.wo(a)
        h = self.mlp_norm(x)
        return x + self.down(F.silu(self.gate(h)) * self.up(h))


class Model(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = torch.nn.Embedding(V, W)
        self.blocks = torch.nn.ModuleList(Block() for _ in range(L))
        self.norm = RMSNorm(W)
        for p in self.parameters():
            if p.dim() == 2:
                torch.nn.init.normal_(p, std=m["init_std"])

    def forward(self, ids):
        s = ids.shape[1]
        cos, sin = rope_tables(s)
        mask = torch.full((s, s), -1e9).triu(1)
        x = self.embed(ids)
        for blk in self.blocks:
            x = blk(x, cos, sin, mask)
        return self.norm(x) @ self.embed.weight.T


model = Model()
decay = [p for p in model.parameters() if p.dim() == 2]
no_decay = [p for p in model.parameters() if p.dim() != 2]
opt = torch.optim.AdamW(
    [{"params": decay, "weight_decay": t["weight_decay"]}, {"params": no_decay, "weight_decay": 0.0}],
    lr=t["lr"], betas=(t["beta1"], t["beta2"]), eps=t["adam_eps"], foreach=False,
)
gen = torch.Generator().manual_seed(1)
data = torch.randint(0, 256, (rows, length + 1), generator=gen)


def step():
    logits = model(data[:, :-1])
    loss = F.cross_entropy(logits.reshape(-1, V), data[:, 1:].reshape(-1))
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), t["grad_clip"])
    opt.step()
    return loss.item()


first = step()
start = time.perf_counter()
for _ in range(steps):
    last = step()
seconds = time.perf_counter() - start
params = sum(p.numel() for p in model.parameters())
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({
    "impl": "pytorch " + torch.__version__, "tokens_per_s": round(steps * rows * length / seconds, 1),
    "step_s": round(seconds / steps, 3), "peak_rss_mb": round(peak_mb), "params": params,
    "first_loss": round(first, 4), "last_loss": round(last, 4),
}))
