"""Inducing-point (DTC / VFE) posterior of the Matern-5/2 GPR, for training sets too large for an exact GP.

The exact posterior needs the N x N covariance and its Cholesky factor: 20 GB each at N=50k in
float64. With M inducing inputs ``u`` (a seeded subset of the training rows) the predictive mean is

    m(x*) = k(x*, u) (noise K_uu + K_un K_nu)^-1 K_un (y - mean)

(the deterministic-training-conditional / variational-free-energy mean), which needs only M x M
matrices: ``K_un K_nu`` is accumulated over row chunks, so memory is O(M^2 + chunk M) and time
O(N M^2), whatever N is. The hyperparameters come from the exact marginal likelihood on a subset,
as for the exact head, so only the solve is approximated. Numerically it follows the stable form
``A = L_u^-1 K_un / sigma``, ``B = I + A A^T`` (Titsias 2009; GPflow's SGPR):

    mean*     = k*u L_u^-T L_B^-T L_B^-1 A (y - mean) / sigma
    variance* = s - |L_u^-1 k_u*|^2 + |L_B^-1 L_u^-1 k_u*|^2 + noise
"""

from __future__ import annotations

import math

import torch
from linear_operator.utils.cholesky import psd_safe_cholesky

from deepfeat_iqa.heads._gp_math import matern52_, scaled_distances

#: Training rows per accumulation step: bounds the M x chunk kernel block (128 MB at M=4000, float64).
CHUNK_ROWS = 4096
#: Relative jitter on K_uu's diagonal; the inducing rows are training rows, so K_uu alone can be singular.
_JITTER = 1e-6


class InducingPosterior:
    """Predictive mean and sd of the GPR model from ``M`` inducing inputs, conditioned on all ``N`` rows.

    Parameters
    ----------
    x : torch.Tensor of shape (n, p)
        All training inputs (read a chunk at a time).
    y : torch.Tensor of shape (n,)
        Training targets.
    inducing : torch.Tensor of shape (m, p)
        Inducing inputs.
    lengthscale : torch.Tensor of shape (1,) or (p,)
        Lengthscale(s).
    outputscale, noise, mean : float
        Signal variance, noise variance and constant mean.
    dual_coef : torch.Tensor of shape (m,) or None
        The weights of ``k(x*, u)`` in the mean when already known (from a previous fit), else computed.
    """

    def __init__(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        inducing: torch.Tensor,
        lengthscale: torch.Tensor,
        outputscale: float,
        noise: float,
        mean: float,
        dual_coef: torch.Tensor | None = None,
    ) -> None:
        self.center = x.mean(dim=0)
        self.lengthscale = lengthscale
        self.x, self.y = x, y
        self.z = (inducing - self.center) / lengthscale
        self.outputscale, self.noise, self.mean = outputscale, noise, mean
        K_uu = matern52_(scaled_distances(self.z), outputscale)
        K_uu.diagonal().add_(_JITTER * outputscale)
        self.L_u = psd_safe_cholesky(K_uu)
        self.L_B: torch.Tensor | None = None
        self.dual_coef = self._solve() if dual_coef is None else dual_coef

    def _solve(self) -> torch.Tensor:
        """Accumulate ``B`` and ``A (y - mean)`` over row chunks; return the mean's weights."""
        m = self.z.shape[0]
        sigma = math.sqrt(self.noise)
        B = torch.eye(m, dtype=self.z.dtype, device=self.z.device)
        Ay = torch.zeros(m, dtype=self.z.dtype, device=self.z.device)
        for start in range(0, len(self.y), CHUNK_ROWS):
            zc = (self.x[start : start + CHUNK_ROWS] - self.center) / self.lengthscale
            A = torch.linalg.solve_triangular(self.L_u, matern52_(scaled_distances(self.z, zc), self.outputscale), upper=False)
            A.div_(sigma)
            B.addmm_(A, A.T)
            Ay.add_(A @ (self.y[start : start + CHUNK_ROWS] - self.mean), alpha=1.0 / sigma)
        self.L_B = psd_safe_cholesky(B)
        c = torch.linalg.solve_triangular(self.L_B, Ay.unsqueeze(-1), upper=False)
        w = torch.linalg.solve_triangular(self.L_B.T, c, upper=True)
        return torch.linalg.solve_triangular(self.L_u.T, w, upper=True).squeeze(-1)

    def __call__(self, x: torch.Tensor, return_std: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Predictive mean and, with ``return_std``, the sd of a new observation at rows ``x``."""
        cross = matern52_(scaled_distances((x - self.center) / self.lengthscale, self.z), self.outputscale)
        mean = cross @ self.dual_coef + self.mean
        if not return_std:
            return mean, None
        if self.L_B is None:  # loaded with dual_coef: the variance needs B, accumulated once
            self._solve()
        V = torch.linalg.solve_triangular(self.L_u, cross.T, upper=False)
        W = torch.linalg.solve_triangular(self.L_B, V, upper=False)
        variance = (self.outputscale + self.noise) - V.square().sum(dim=0) + W.square().sum(dim=0)
        return mean, variance.clamp_min_(0.0).sqrt_()
