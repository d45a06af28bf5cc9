# The manager's image. Build from the repository root: docker build -t swarm .
# Stage 1 compiles the packages and packs them as npm would publish them; stage 2 installs those
# tarballs, nothing else of the repository, and runs as the unprivileged `node` user.
FROM node:20-bookworm AS build
WORKDIR /src
COPY . .
RUN npm ci --no-audit --no-fund \
 && npm run build \
 && mkdir /tarballs \
 && npm pack --silent --pack-destination /tarballs ./core ./relay ./ui ./cli ./plugins/*

FROM node:20-bookworm-slim
# The optional upload relay (@swarm/splice-relay) needs a compiler to install: the slim image has
# none, so npm skips it and uploads take the portable path (the manager says which at start).
COPY --from=build /tarballs /tmp/tarballs
# Installed together, so that the command's @swarm/* dependencies come from these tarballs.
RUN npm install --prefix /opt/swarm --no-audit --no-fund /tmp/tarballs/*.tgz \
 && ln -s /opt/swarm/node_modules/.bin/swarm /usr/local/bin/swarm \
 && rm -rf /tmp/tarballs /root/.npm
USER node
EXPOSE 2375 3376
ENTRYPOINT ["swarm"]
CMD ["--help"]
