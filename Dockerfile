# touchstream: one image, any subset of services (`--target`). Used by docker-compose.yml and deploy/.
# Only what runs in production: the executable (apps/), the services and their packages. Developer and operator
# tools (tools/: up, demo, benchmarks, quality, the local-engine launcher, the test kit) and test/ stay out.
FROM node:24-bookworm-slim
WORKDIR /app
RUN corepack enable && corepack prepare pnpm@10 --activate
COPY package.json pnpm-lock.yaml pnpm-workspace.yaml tsconfig.base.json ./
COPY schemas ./schemas
COPY rules ./rules
COPY packages ./packages
COPY services ./services
COPY apps ./apps
# Only the executable and what it depends on (tools/ and test/ are not in the image).
RUN pnpm install --frozen-lockfile --prod=false --filter @touchstream/app...
ENV NODE_ENV=production HTTP_HOST=0.0.0.0 HTTP_PORT=8080
EXPOSE 8080
ENTRYPOINT ["node", "--import", "tsx", "--import", "./apps/touchstream/src/telemetry.ts", "apps/touchstream/src/main.ts", "run"]
CMD ["--target", "all"]
